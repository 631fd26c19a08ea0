//! A rehearsal on this machine of ECS's blue/green, canary or linear
//! deployment (`geno up --rehearse ENV`): the strategy's steps with their
//! bakes scaled down, and the environment's rollback alarms judged on what
//! the local load balancer measured of the new release. Pure: `host::rehearse`
//! runs it against the engine and the load balancer.

use std::time::Duration;

use crate::alb::stats::GroupSnapshot;
use crate::deploy::scaling::Alarm;
use crate::stack::strategy::Strategy;

/// How much faster than on ECS a rehearsal runs: bakes and alarm periods
/// are this many times shorter.
pub const SPEEDUP: u32 = 10;

/// One step: the percent of the group's requests on the new release, held
/// for this long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub percent: u8,
    pub hold: Duration,
    /// What ECS calls it, for a person: `canary`, `step 2 of 4`, `bake`.
    pub what: String,
}

/// The steps of `strategy` with `bake` after all traffic has moved, each
/// hold `speedup` times shorter. A share under 1 % is rehearsed as 1 %
/// (the local load balancer splits by whole percents).
pub fn steps(strategy: &Strategy, bake: Duration, speedup: u32) -> Vec<Step> {
    let scaled = |d: Duration| d / speedup.max(1);
    let share = |p: f64| p.clamp(1.0, 100.0).round() as u8;
    let mut out = Vec::new();
    match strategy {
        Strategy::Rolling | Strategy::BlueGreen => {}
        Strategy::Canary(shift) => out.push(Step {
            percent: share(shift.percent),
            hold: scaled(shift.bake.0),
            what: "canary".into(),
        }),
        Strategy::Linear(shift) => {
            let step = shift.percent.max(1.0);
            let count = (100.0 / step).ceil() as usize;
            for i in 1..count {
                out.push(Step {
                    percent: share(step * i as f64),
                    hold: scaled(shift.bake.0),
                    what: format!("step {i} of {count}"),
                });
            }
        }
    }
    out.push(Step {
        percent: 100,
        hold: scaled(bake),
        what: "bake".into(),
    });
    out
}

/// What the local load balancer measures of the new release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// Its targets' 5xx answers in a period (`HTTPCode_Target_5XX_Count`, Sum).
    Errors,
    /// Its targets not healthy, the most in a period (`UnHealthyHostCount`).
    Unhealthy,
    /// Its targets' response time at this quantile, in seconds
    /// (`TargetResponseTime`, pNN).
    Latency(f64),
}

/// A rollback alarm as the rehearsal judges it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAlarm {
    pub name: String,
    pub measure: Measure,
    pub threshold: f64,
    pub comparison: String,
    /// The alarm's period, scaled down.
    pub period: Duration,
    pub periods: u32,
}

/// The rollback alarms the local load balancer can judge, scaled down,
/// and for the others why not.
pub fn local_alarms(alarms: &[&Alarm], speedup: u32) -> (Vec<LocalAlarm>, Vec<String>) {
    let (mut judged, mut not) = (Vec::new(), Vec::new());
    for a in alarms {
        let quantile = a
            .extended_statistic
            .as_deref()
            .and_then(|s| s.strip_prefix('p'))
            .and_then(|q| q.parse::<f64>().ok());
        let measure = match (a.namespace.as_str(), a.metric_name.as_str(), quantile) {
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", _)
                if a.statistic.as_deref() == Some("Sum") =>
            {
                Some(Measure::Errors)
            }
            ("AWS/ApplicationELB", "UnHealthyHostCount", _) => Some(Measure::Unhealthy),
            ("AWS/ApplicationELB", "TargetResponseTime", Some(q)) => {
                Some(Measure::Latency(q / 100.0))
            }
            _ => None,
        };
        match measure {
            Some(measure) => judged.push(LocalAlarm {
                name: a.alarm_name.clone(),
                measure,
                threshold: a.threshold,
                comparison: a.comparison_operator.clone(),
                period: Duration::from_secs(a.period.max(1) as u64) / speedup.max(1),
                periods: a.evaluation_periods.max(1) as u32,
            }),
            None => not.push(format!(
                "{} ({} {} is CloudWatch's alone)",
                a.alarm_name, a.namespace, a.metric_name
            )),
        }
    }
    (judged, not)
}

/// One look at the new release: its load balancer counters (cumulative)
/// and how many of its targets are not healthy.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub stats: GroupSnapshot,
    pub unhealthy: u32,
}

/// Why a rehearsal rolls back: the alarm, and CloudWatch's kind of reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub alarm: String,
    pub reason: String,
}

/// Judges the alarms period by period, as CloudWatch does: a datapoint per
/// period, and the alarm fires when its last `periods` datapoints all
/// cross the threshold (a period with no requests has no latency
/// datapoint, which does not cross).
pub struct Judge {
    alarms: Vec<(LocalAlarm, Track)>,
}

#[derive(Default)]
struct Track {
    /// Where the current period began, and the counters then.
    started: Duration,
    base: Sample,
    worst_unhealthy: u32,
    datapoints: Vec<Option<f64>>,
}

impl Judge {
    pub fn new(alarms: Vec<LocalAlarm>, at: Duration, first: &Sample) -> Judge {
        Judge {
            alarms: alarms
                .into_iter()
                .map(|a| {
                    (
                        a,
                        Track {
                            started: at,
                            base: first.clone(),
                            ..Track::default()
                        },
                    )
                })
                .collect(),
        }
    }

    /// A look at `at` (time since the rehearsal began): the first alarm to
    /// fire, if one does.
    pub fn look(&mut self, at: Duration, now: &Sample) -> Option<Fired> {
        for (alarm, track) in &mut self.alarms {
            track.worst_unhealthy = track.worst_unhealthy.max(now.unhealthy);
            if at < track.started + alarm.period {
                continue;
            }
            let period = now.stats.since(&track.base.stats);
            let datapoint = match alarm.measure {
                Measure::Errors => Some(period.classes[4] as f64),
                Measure::Unhealthy => Some(f64::from(track.worst_unhealthy)),
                Measure::Latency(q) => period.percentile(q).map(|d| d.as_secs_f64()),
            };
            track.datapoints.push(datapoint);
            track.started = at;
            track.base = now.clone();
            track.worst_unhealthy = now.unhealthy;
            let last: Vec<Option<f64>> = track
                .datapoints
                .iter()
                .rev()
                .take(alarm.periods as usize)
                .rev()
                .copied()
                .collect();
            let crosses =
                |v: &Option<f64>| v.is_some_and(|v| crossed(&alarm.comparison, v, alarm.threshold));
            if last.len() == alarm.periods as usize && last.iter().all(crosses) {
                let digits = match alarm.measure {
                    Measure::Latency(_) => 3,
                    _ => 1,
                };
                let values = last
                    .iter()
                    .map(|v| format!("{:.digits$}", v.unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Some(Fired {
                    alarm: alarm.name.clone(),
                    reason: format!(
                        "Threshold Crossed: {} datapoint{} [{values}] {} the threshold ({}), each over {}",
                        last.len(),
                        if last.len() == 1 { "" } else { "s" },
                        comparison_words(&alarm.comparison),
                        alarm.threshold,
                        humantime::format_duration(alarm.period)
                    ),
                });
            }
        }
        None
    }
}

fn crossed(comparison: &str, value: f64, threshold: f64) -> bool {
    match comparison {
        "GreaterThanThreshold" => value > threshold,
        "GreaterThanOrEqualToThreshold" => value >= threshold,
        "LessThanThreshold" => value < threshold,
        "LessThanOrEqualToThreshold" => value <= threshold,
        _ => false,
    }
}

fn comparison_words(comparison: &str) -> &'static str {
    match comparison {
        "GreaterThanThreshold" => "greater than",
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "LessThanThreshold" => "less than",
        "LessThanOrEqualToThreshold" => "less than or equal to",
        _ => "compared with",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::dur::Dur;
    use crate::stack::strategy::Shift;

    fn shift(percent: f64, minutes: u64) -> Shift {
        Shift {
            percent,
            bake: Dur::secs(minutes * 60),
        }
    }

    #[test]
    fn each_strategy_is_its_steps_then_the_bake_ten_times_shorter() {
        let bake = Duration::from_secs(300);
        let said = |s: &Strategy| -> Vec<(u8, u64, String)> {
            steps(s, bake, SPEEDUP)
                .into_iter()
                .map(|s| (s.percent, s.hold.as_secs(), s.what))
                .collect()
        };
        assert_eq!(said(&Strategy::BlueGreen), [(100, 30, "bake".into())]);
        assert_eq!(
            said(&Strategy::Canary(shift(10.0, 5))),
            [(10, 30, "canary".into()), (100, 30, "bake".into())]
        );
        assert_eq!(
            said(&Strategy::Linear(shift(30.0, 1))),
            [
                (30, 6, "step 1 of 4".into()),
                (60, 6, "step 2 of 4".into()),
                (90, 6, "step 3 of 4".into()),
                (100, 30, "bake".into())
            ]
        );
        // Under 1 %: the local load balancer's least share.
        assert_eq!(
            steps(&Strategy::Canary(shift(0.5, 1)), bake, 10)[0].percent,
            1
        );
    }

    fn alarm(name: &str, metric: &str, statistic: &str, threshold: f64, periods: i32) -> Alarm {
        let (statistic, extended) = match statistic.starts_with('p') {
            true => (None, Some(statistic.to_string())),
            false => (Some(statistic.to_string()), None),
        };
        Alarm {
            alarm_name: name.into(),
            namespace: "AWS/ApplicationELB".into(),
            metric_name: metric.into(),
            dimensions: Vec::new(),
            statistic,
            extended_statistic: extended,
            period: 60,
            evaluation_periods: periods,
            threshold,
            comparison_operator: "GreaterThanThreshold".into(),
            treat_missing_data: None,
            alarm_description: None,
        }
    }

    fn errors(requests: u64, fives: u64) -> Sample {
        let mut stats = GroupSnapshot {
            requests,
            latency: vec![0; crate::alb::stats::BUCKETS],
            ..GroupSnapshot::default()
        };
        stats.classes[1] = requests - fives;
        stats.classes[4] = fives;
        stats.latency[2] = requests;
        Sample {
            stats,
            unhealthy: 0,
        }
    }

    #[test]
    fn the_alarms_the_load_balancer_can_measure_are_judged_the_others_named() {
        let five = alarm("web-5xx", "HTTPCode_Target_5XX_Count", "Sum", 5.0, 2);
        let slow = alarm("web-latency", "TargetResponseTime", "p99", 1.0, 3);
        let mut cpu = alarm("web-cpu", "CPUUtilization", "Average", 80.0, 3);
        cpu.namespace = "AWS/ECS".into();
        let (judged, not) = local_alarms(&[&five, &slow, &cpu], SPEEDUP);
        assert_eq!(
            judged
                .iter()
                .map(|a| (&*a.name, a.measure, a.period))
                .collect::<Vec<_>>(),
            [
                ("web-5xx", Measure::Errors, Duration::from_secs(6)),
                (
                    "web-latency",
                    Measure::Latency(0.99),
                    Duration::from_secs(6)
                )
            ]
        );
        assert_eq!(
            not,
            ["web-cpu (AWS/ECS CPUUtilization is CloudWatch's alone)"]
        );
    }

    #[test]
    fn an_alarm_fires_when_its_last_periods_all_cross_and_not_before() {
        let five = alarm("web-5xx", "HTTPCode_Target_5XX_Count", "Sum", 5.0, 2);
        let (judged, _) = local_alarms(&[&five], SPEEDUP);
        let s = Duration::from_secs;
        let mut judge = Judge::new(judged, s(0), &errors(0, 0));
        // Mid-period: nothing judged yet.
        assert_eq!(judge.look(s(3), &errors(40, 30)), None);
        // First period: 30 5xx > 5, but two periods must cross.
        assert_eq!(judge.look(s(6), &errors(60, 30)), None);
        // Second: 3 more, under the threshold: still quiet.
        assert_eq!(judge.look(s(12), &errors(80, 33)), None);
        assert_eq!(judge.look(s(18), &errors(100, 43)), None);
        let fired = judge.look(s(24), &errors(120, 53)).unwrap();
        assert_eq!(fired.alarm, "web-5xx");
        assert_eq!(
            fired.reason,
            "Threshold Crossed: 2 datapoints [10.0, 10.0] greater than the threshold (5), each over 6s"
        );
    }

    #[test]
    fn a_period_without_requests_has_no_latency_and_does_not_cross() {
        let slow = alarm("web-latency", "TargetResponseTime", "p99", 0.001, 1);
        let (judged, _) = local_alarms(&[&slow], SPEEDUP);
        let s = Duration::from_secs;
        let mut judge = Judge::new(judged, s(0), &errors(0, 0));
        assert_eq!(judge.look(s(6), &errors(0, 0)), None);
        // 4–7 ms answers: over a 1 ms threshold.
        let fired = judge.look(s(12), &errors(10, 0)).unwrap();
        assert!(
            fired
                .reason
                .starts_with("Threshold Crossed: 1 datapoint [0.004]"),
            "{}",
            fired.reason
        );
    }
}
