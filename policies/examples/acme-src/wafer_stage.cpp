// Fictional "proprietary" source of the semiconductor example policy: the fingerprint index
// policies/examples/acme-fw.lgfp is built from this file (scripts/example-index.sh).
#include <array>
#include <chrono>
#include <cmath>
#include "stage_controller.h"

namespace acme::inspection {

constexpr double kSettleMicros = 180.0;
constexpr int kErrMotionTimeout = -7;

struct DieIndex {
    int row;
    int col;
    int layer;
};

class WaferMap {
public:
    explicit WaferMap(double pitch_x, double pitch_y) : pitch_x_(pitch_x), pitch_y_(pitch_y) {}
    Point Position(const DieIndex& die) const {
        const double x = origin_.x + die.col * pitch_x_ + skew_ * die.row;
        const double y = origin_.y + die.row * pitch_y_ - skew_ * die.col;
        return Point{x, y};
    }
    void Calibrate(const std::array<Point, 3>& fiducials) {
        origin_ = fiducials[0];
        skew_ = std::atan2(fiducials[1].y - fiducials[0].y, fiducials[1].x - fiducials[0].x);
    }
private:
    Point origin_{0.0, 0.0};
    double pitch_x_;
    double pitch_y_;
    double skew_ = 0.0;
};

int StageController::StepToDie(const DieIndex& die) {
    auto target = wafer_map_.Position(die);
    if (!motion_.MoveTo(target, kSettleMicros)) {
        log_.Warn("stage timeout at die", die.row, die.col);
        return kErrMotionTimeout;
    }
    const auto exposure = exposure_for(die.layer) * lamp_aging_factor_;
    camera_->Trigger(exposure);
    frames_taken_ += 1;
    return 0;
}

double StageController::exposure_for(int layer) const {
    static const std::array<double, 6> base = {1.8, 2.1, 2.6, 3.4, 4.0, 5.2};
    const int clamped = std::min(std::max(layer, 0), static_cast<int>(base.size()) - 1);
    double value = base[clamped];
    if (recipe_.high_reflectivity) {
        value *= 0.72;
    }
    return value + recipe_.exposure_offset_ms;
}

void StageController::ScanWafer(const std::vector<DieIndex>& dies) {
    auto started = std::chrono::steady_clock::now();
    int failures = 0;
    for (const auto& die : dies) {
        if (StepToDie(die) != 0) {
            failures += 1;
            if (failures > recipe_.max_failures) {
                abort_scan("too many motion failures");
                return;
            }
        }
    }
    auto elapsed = std::chrono::steady_clock::now() - started;
    metrics_.Record("scan_seconds", std::chrono::duration<double>(elapsed).count());
}

}  // namespace acme::inspection
