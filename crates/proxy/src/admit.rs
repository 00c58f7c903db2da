//! The admit step: rate limits (`api.<group>.requests_per_minute`, `tokens_per_minute`), the
//! only rule that needs state, so it runs after the policy's verdict and only for requests the
//! verdict lets through.

use crate::inspect::Loaded;
use crate::state::Shared;
use leakguard_policy::Stop;
use std::time::{Duration, Instant};

const RATE_WINDOW: Duration = Duration::from_secs(60);

/// A request over its group's rate: the refusal and the Retry-After seconds.
#[derive(Debug)]
pub struct Throttled {
    pub stop: Stop,
    pub retry_after: u64,
}

impl Shared {
    /// Counts a request of `est_tokens` against its group's minute, or says when to retry.
    pub fn admit(
        &self,
        loaded: &Loaded,
        group: Option<&str>,
        host: &str,
        est_tokens: u64,
    ) -> Result<(), Throttled> {
        let Some(group) = group else {
            return Ok(());
        };
        let Some(rules) = loaded.policy().api.get(group) else {
            return Ok(());
        };
        if rules.requests_per_minute.is_none() && rules.tokens_per_minute.is_none() {
            return Ok(());
        }
        let mut windows = self.rate.lock().expect("rate windows");
        let w = windows.entry(group.to_string()).or_default();
        let now = Instant::now();
        while w
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            w.pop_front();
        }
        let tokens: u64 = w.iter().map(|(_, t, _)| *t).sum();
        let requests = w.iter().filter(|(_, _, request)| *request).count();
        let over_requests = rules
            .requests_per_minute
            .is_some_and(|n| requests as u64 >= u64::from(n));
        let over_tokens = rules
            .tokens_per_minute
            .is_some_and(|n| tokens + est_tokens > n);
        if over_requests || over_tokens {
            let retry_after = w.front().map_or(1, |(at, _, _)| {
                (RATE_WINDOW - now.duration_since(*at)).as_secs() + 1
            });
            let (what, by) = if over_requests {
                (
                    format!(
                        "{} requests a minute",
                        rules.requests_per_minute.unwrap_or(0)
                    ),
                    "requests_per_minute",
                )
            } else {
                (
                    format!("{} tokens a minute", rules.tokens_per_minute.unwrap_or(0)),
                    "tokens_per_minute",
                )
            };
            return Err(Throttled {
                stop: Stop {
                    status: 429,
                    code: "leakguard_rate_limited",
                    message: format!(
                        "Leakguard: the limit for {host} is {what}; try again in {retry_after} s."
                    ),
                    by: format!("api.{group}.{by}"),
                },
                retry_after,
            });
        }
        w.push_back((now, est_tokens, true));
        Ok(())
    }

    /// The tokens a reply reported beyond what its request was counted for (the prompt's
    /// estimate): added to the group's minute, so `tokens_per_minute` counts what the
    /// provider counted, answers included.
    pub fn add_reported_tokens(&self, loaded: &Loaded, group: Option<&str>, extra: u64) {
        let Some(group) = group else {
            return;
        };
        let limited = loaded
            .policy()
            .api
            .get(group)
            .is_some_and(|r| r.tokens_per_minute.is_some());
        if !limited || extra == 0 {
            return;
        }
        let mut windows = self.rate.lock().expect("rate windows");
        windows
            .entry(group.to_string())
            .or_default()
            .push_back((Instant::now(), extra, false));
    }
}
