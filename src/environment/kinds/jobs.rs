//! Each job's task definition (geno's): the rendered one against the one
//! the job last ran with in this environment.

use super::{Observed, Observing, Subject};
use crate::aws::Live;
use crate::deploy::record;
use crate::deploy::taskdef::diff;
use crate::environment::jobs::current_job;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let current = record::current(cx.records);
    let mut out = Vec::new();
    for job in &cx.plans.jobs {
        let (last_run, changes, problems) = match current_job(cx.live, current, job).await {
            Ok(None) => (None, Vec::new(), Vec::new()),
            Ok(Some((arn, live))) => (Some(arn), diff(&live, &job.task_definition), Vec::new()),
            Err(e) => (None, Vec::new(), vec![e.to_string()]),
        };
        out.push(Observed {
            kind: "",
            subject: Subject::Job {
                name: job.name.clone(),
                runs_before: job.runs_before.clone(),
                family: job.task_definition.family.clone(),
                last_run,
            },
            changes,
            problems,
        });
    }
    out
}
