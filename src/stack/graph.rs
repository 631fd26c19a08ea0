//! The service dependency graph: start order in waves, and cycles.
//!
//! Pure and generic over names so both `validate` (cycles) and `up` (order)
//! use the same code.

use std::collections::{BTreeSet, HashMap};

/// Services grouped in waves: every service's dependencies are in earlier
/// waves, so a wave can start in parallel. Order inside a wave follows the
/// order the services were given in.
pub fn waves<'a>(nodes: &[(&'a str, Vec<&'a str>)]) -> Result<Vec<Vec<&'a str>>, Vec<&'a str>> {
    if let Some(cycle) = find_cycle(nodes) {
        return Err(cycle);
    }
    let mut placed: HashMap<&str, usize> = HashMap::new();
    let mut waves: Vec<Vec<&str>> = Vec::new();
    while placed.len() < nodes.len() {
        let mut wave = Vec::new();
        for (name, deps) in nodes {
            if placed.contains_key(name) {
                continue;
            }
            // Unknown dependencies are validation's business; ignore them here.
            let ready = deps
                .iter()
                .all(|d| placed.contains_key(d) || !nodes.iter().any(|(n, _)| n == d));
            if ready {
                wave.push(*name);
            }
        }
        if wave.is_empty() {
            break; // unreachable without a cycle
        }
        for name in &wave {
            placed.insert(name, waves.len());
        }
        waves.push(wave);
    }
    Ok(waves)
}

/// A dependency cycle as `[a, b, …, a]`, if there is one.
pub fn find_cycle<'a>(nodes: &[(&'a str, Vec<&'a str>)]) -> Option<Vec<&'a str>> {
    let index: HashMap<&str, &Vec<&str>> = nodes.iter().map(|(n, d)| (*n, d)).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for (start, _) in nodes {
        let mut stack: Vec<&str> = Vec::new();
        if let Some(cycle) = visit(start, &index, &mut stack, &mut done) {
            return Some(cycle);
        }
    }
    None
}

fn visit<'a>(
    node: &'a str,
    index: &HashMap<&'a str, &Vec<&'a str>>,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<&'a str>> {
    if let Some(pos) = stack.iter().position(|n| *n == node) {
        let mut cycle = stack[pos..].to_vec();
        cycle.push(node);
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    stack.push(node);
    for dep in index.get(node).map(|d| d.as_slice()).unwrap_or(&[]) {
        if let Some(cycle) = visit(dep, index, stack, done) {
            return Some(cycle);
        }
    }
    stack.pop();
    done.insert(node);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_follow_dependencies() {
        let nodes = vec![
            ("api", vec!["migrate", "redis"]),
            ("migrate", vec!["postgres"]),
            ("postgres", vec![]),
            ("redis", vec![]),
            ("celery", vec!["redis", "postgres"]),
        ];
        assert_eq!(
            waves(&nodes).unwrap(),
            vec![
                vec!["postgres", "redis"],
                vec!["migrate", "celery"],
                vec!["api"]
            ]
        );
    }

    #[test]
    fn cycles_are_reported_as_a_path() {
        let nodes = vec![
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec![]),
        ];
        assert_eq!(waves(&nodes).unwrap_err(), vec!["a", "b", "c", "a"]);
        assert_eq!(find_cycle(&[("s", vec!["s"])]).unwrap(), vec!["s", "s"]);
    }

    #[test]
    fn diamond_is_not_a_cycle() {
        let nodes = vec![
            ("top", vec!["l", "r"]),
            ("l", vec!["base"]),
            ("r", vec!["base"]),
            ("base", vec![]),
        ];
        assert!(find_cycle(&nodes).is_none());
        assert_eq!(waves(&nodes).unwrap().len(), 3);
    }
}
