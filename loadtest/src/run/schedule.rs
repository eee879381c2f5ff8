//! The open-loop schedule: when each operation is meant to start (a linear
//! ramp, then a steady rate), and which step of its visit's negotiation, chat
//! or permission cycle each relay operation is.

use super::Scenario;
use std::time::Duration;

/// When op `i` is meant to start, for a linear ramp then a steady rate.
pub(super) fn offset(i: u64, rate: f64, ramp: Duration) -> Duration {
    let r = ramp.as_secs_f64();
    let i = i as f64;
    let ramp_ops = rate * r / 2.0;
    let t = if r > 0.0 && i < ramp_ops {
        (2.0 * r * i / rate).sqrt()
    } else {
        r + (i - ramp_ops) / rate
    };
    Duration::from_secs_f64(t.max(0.0))
}

/// The relay steps of one visit's negotiation: offer, answer, then k
/// candidates each way (k in 5..=15, varying per round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Offer,
    Answer,
    IceFromProvider,
    IceFromPatient,
    Chat { from_patient: bool },
    Grant,
}

fn negotiation_step(round: u64, n: u64) -> Option<Step> {
    let k = 5 + (round * 7) % 11;
    match n {
        0 => Some(Step::Offer),
        1 => Some(Step::Answer),
        n if n < 2 + k => Some(Step::IceFromProvider),
        n if n < 2 + 2 * k => Some(Step::IceFromPatient),
        _ => None,
    }
}

pub(super) struct VisitCursor {
    round: u64,
    n: u64,
    mixed: u64,
}

impl VisitCursor {
    /// Visit `v`'s cursor. Visits are independent, so each starts at its
    /// own point of a negotiation round (and of the mixed cycle): started
    /// together, every visit sent its 5 KB offer within the same 1% of a
    /// round, a burst no real population of visits produces.
    pub(super) fn staggered(v: u64) -> Self {
        let round = v;
        let len = (0..)
            .take_while(|&n| negotiation_step(round, n).is_some())
            .count() as u64;
        Self {
            round,
            n: (v * 7919) % len,
            mixed: v % 10,
        }
    }

    pub(super) fn next(&mut self, scenario: Scenario) -> Step {
        match scenario {
            Scenario::Chat => {
                self.n += 1;
                Step::Chat {
                    from_patient: self.n.is_multiple_of(2),
                }
            }
            Scenario::Permissions => Step::Grant,
            Scenario::Mixed => {
                // Of every 10 operations: 1 permission change, 3 chats, 6 negotiation messages.
                self.mixed += 1;
                match self.mixed % 10 {
                    0 => Step::Grant,
                    3 | 6 | 9 => Step::Chat {
                        from_patient: self.mixed % 20 < 10,
                    },
                    _ => self.negotiation(),
                }
            }
            _ => self.negotiation(),
        }
    }

    fn negotiation(&mut self) -> Step {
        loop {
            if let Some(s) = negotiation_step(self.round, self.n) {
                self.n += 1;
                return s;
            }
            self.round += 1;
            self.n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_is_linear_then_steady() {
        let ramp = Duration::from_secs(2);
        assert_eq!(offset(0, 100.0, ramp), Duration::ZERO);
        // 100 ops/s ramped over 2 s: 100 ops by the end of the ramp.
        assert!((offset(100, 100.0, ramp).as_secs_f64() - 2.0).abs() < 1e-9);
        assert!((offset(200, 100.0, ramp).as_secs_f64() - 3.0).abs() < 1e-9);
        assert!((offset(50, 100.0, Duration::ZERO).as_secs_f64() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn visits_negotiate_out_of_step() {
        // 100 visits, one operation each in turn: a real population's
        // offers are spread over the round, not sent together.
        let mut cursors: Vec<VisitCursor> = (0..100).map(VisitCursor::staggered).collect();
        for _ in 0..30 {
            let offers = cursors
                .iter_mut()
                .map(|c| c.next(Scenario::Negotiation))
                .filter(|s| *s == Step::Offer)
                .count();
            assert!(offers <= 20, "{offers} of 100 visits offer at once");
        }
        let mut total = 0;
        for _ in 0..300 {
            total += cursors
                .iter_mut()
                .map(|c| c.next(Scenario::Negotiation))
                .filter(|s| *s == Step::Offer)
                .count();
        }
        assert!(total >= 100, "every visit still negotiates: {total} offers");
    }

    #[test]
    fn negotiation_rounds_have_5_to_15_candidates_each_way() {
        for round in 0..30 {
            let steps: Vec<Step> = (0..40).map_while(|n| negotiation_step(round, n)).collect();
            assert_eq!(steps[0], Step::Offer);
            assert_eq!(steps[1], Step::Answer);
            let k = steps
                .iter()
                .filter(|s| **s == Step::IceFromProvider)
                .count();
            assert!((5..=15).contains(&k));
            assert_eq!(
                k,
                steps.iter().filter(|s| **s == Step::IceFromPatient).count()
            );
        }
    }
}
