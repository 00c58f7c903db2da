import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import App from "../src/App.svelte";
import { FakeBackend, event } from "./fake";

// uPlot draws on a canvas, which jsdom does not have: the charts are checked by their data
// (lib.test.ts) and on the real app (tests/desktop).
vi.mock("uplot", () => ({
  default: class {
    destroy() {}
  },
}));

afterEach(() => cleanup());

function app(b = new FakeBackend()) {
  render(App, { props: { backend: b } });
  return b;
}

describe("the app", () => {
  it("shows protection and today's counts, and counts again when an event is pushed", async () => {
    const b = new FakeBackend();
    b.store.push(event(1));
    app(b);
    expect(await screen.findByTestId("protection")).toHaveProperty("textContent", "Protected");
    const blocked = await screen.findByTestId("count-blocked");
    await waitFor(() => expect(within(blocked).getByLabelText("Blocked today").textContent).toBe("1"));
    b.push(event(2));
    await waitFor(() => expect(within(blocked).getByLabelText("Blocked today").textContent).toBe("2"));
    expect(screen.getByTestId("usage").textContent).toContain("chatgpt.com");
  });

  it("puts a live event on top of the Events list without a reload, if it fits the filter", async () => {
    const b = new FakeBackend();
    for (let i = 1; i <= 3; i++) b.store.push(event(i));
    app(b);
    await fireEvent.click(screen.getByTestId("nav-events"));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(3));
    const loads = b.calls.filter((c) => c === "events").length;
    b.push(event(4, { outcome: "redacted", verdict: "redact", rules: [{ rule: "email-address", category: "pii", action: "redact", count: 1 }] }));
    await waitFor(() => expect(screen.getAllByTestId("event-row")[0]?.dataset.id).toBe("ev4"));
    expect(b.calls.filter((c) => c === "events").length).toBe(loads);
    // Only blocked ones: the next redacted event stays out.
    await fireEvent.change(screen.getByTestId("f-outcome"), { target: { value: "blocked" } });
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(3));
    b.push(event(5, { outcome: "redacted" }));
    b.push(event(6));
    await waitFor(() => expect(screen.getAllByTestId("event-row")[0]?.dataset.id).toBe("ev6"));
    expect(screen.getAllByTestId("event-row").map((r) => r.dataset.id)).not.toContain("ev5");
  });

  it("exports where the save dialog says, and does nothing when it is cancelled", async () => {
    const b = new FakeBackend();
    for (let i = 1; i <= 4; i++) b.store.push(event(i));
    b.exportTo = null;
    app(b);
    await fireEvent.click(screen.getByTestId("nav-events"));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(4));
    await fireEvent.click(screen.getByTestId("export-jsonl"));
    await waitFor(() => expect(b.calls).toContain("exportEvents"));
    expect(screen.queryByTestId("events-note")).toBeNull();
    b.exportTo = "/home/user/out.csv";
    await fireEvent.click(screen.getByTestId("export-csv"));
    expect((await screen.findByTestId("events-note")).textContent).toBe("Exported 4 events to /home/user/out.csv");
  });

  it("renders only a window of rows out of 100,000 and shows the selected one's details", async () => {
    const b = new FakeBackend();
    for (let i = 1; i <= 100_000; i++) b.store.push(event(i));
    app(b);
    await fireEvent.click(screen.getByTestId("nav-events"));
    await waitFor(() => expect(screen.getAllByTestId("event-row").length).toBeGreaterThan(0));
    expect(screen.getAllByTestId("event-row").length).toBeLessThan(60);
    await fireEvent.click(screen.getAllByTestId("event-row")[0]!);
    expect(screen.getByTestId("detail-headline").textContent).toContain("aws-access-key-id");
    expect(screen.getByTestId("detail-by").textContent).toBe("actions.categories.secret");
    await waitFor(() => expect(screen.getByTestId("detail-advice").textContent).toContain("AWS access key ID. Take the key out"));
  });

  it("opens the event a leakguard:// link names, and the warn flow from a warned event", async () => {
    const b = new FakeBackend();
    b.store.push(event(1), event(2, { outcome: "warned", verdict: "warn", override_code: "c0ffee123456" }));
    app(b);
    b.route({ view: "events", id: "ev2" });
    await waitFor(() => expect(screen.getByTestId("detail-headline").textContent).toContain("Held for your confirmation"));
    await fireEvent.click(screen.getByTestId("allow-once"));
    const dialog = await screen.findByTestId("warn-flow");
    expect(within(dialog).getByTestId("warn-code").textContent).toBe("c0ffee123456");
    const allow = within(dialog).getByTestId("warn-allow") as HTMLButtonElement;
    expect(allow.disabled).toBe(true);
    await fireEvent.input(within(dialog).getByTestId("warn-reason"), { target: { value: "approved by my lead" } });
    await fireEvent.click(allow);
    await waitFor(() => expect(within(dialog).getByTestId("warn-done").textContent).toContain("10 minutes"));
    expect(b.allowed).toEqual([["c0ffee123456", "approved by my lead"]]);
  });

  it("Try it marks the findings in place and shows the verdict and the redacted text", async () => {
    app();
    await fireEvent.click(screen.getByTestId("nav-try"));
    await fireEvent.input(screen.getByTestId("try-text"), { target: { value: "deploy with AKIAQYLPMN5HJNGY4F7A now" } });
    await fireEvent.click(screen.getByTestId("try-check"));
    await waitFor(() => expect(screen.getByTestId("try-verdict").textContent).toContain("Would be blocked"));
    const marked = screen.getByTestId("try-marked");
    expect(marked.querySelector("mark")?.textContent).toBe("AKIAQYLPMN5HJNGY4F7A");
    expect(screen.getByTestId("try-redacted").textContent).toBe("deploy with [REDACTED:aws-access-key-id#1] now");
  });

  it("shows the managed policy read-only with its source, signature and refused updates", async () => {
    app();
    await fireEvent.click(screen.getByTestId("nav-policy"));
    expect((await screen.findByTestId("policy-origin")).textContent).toContain("Managed by your organisation");
    expect(screen.getByText(/Read-only/)).toBeTruthy();
    expect(screen.getByText(/Signed and verified/)).toBeTruthy();
    expect(screen.getByText(/`blok` is not an action/)).toBeTruthy();
    expect(screen.getByTestId("policy-destinations").textContent).toContain("switched off");
    // No `sensitivity` in the file: the balanced preset decides what is not listed.
    expect(screen.getByTestId("policy-sensitivity").textContent).toContain("balanced");
  });

  it("names the policy's sensitivity preset", async () => {
    const b = new FakeBackend();
    b.policy_ = { ...b.policy_, policy: { ...b.policy_.policy, sensitivity: "permissive" } };
    app(b);
    await fireEvent.click(screen.getByTestId("nav-policy"));
    expect((await screen.findByTestId("policy-sensitivity")).textContent).toContain("permissive");
  });

  it("says why protection is degraded and which destinations answer, and switches theme from the keyboard-reachable toggle", async () => {
    const b = new FakeBackend();
    b.health_ = { ...b.health_, protection: "degraded", reasons: ["The policy update was refused: fix it and save again."] };
    app(b);
    await fireEvent.click(await screen.findByTestId("nav-health"));
    expect((await screen.findByTestId("health-state")).textContent).toContain("Not fully protected");
    expect(screen.getByTestId("health-reasons").textContent).toContain("refused");
    const reach = screen.getByTestId("health-destinations").textContent ?? "";
    expect(reach).toContain("Reachable");
    expect(reach).toContain("cannot connect to chat.example:443");
    const before = document.documentElement.dataset.theme;
    await fireEvent.click(screen.getByTestId("theme"));
    expect(document.documentElement.dataset.theme).not.toBe(before);
  });
});
