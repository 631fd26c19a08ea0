//! Property tests: every input either loads, or is refused with at least
//! one diagnostic, each pointing at a line and column that exist in the
//! file — never a panic, never a silent error without a location.

use std::collections::BTreeMap;

use geno::stack::LoadError;
use geno::stack::load::{Source, load_source};
use proptest::prelude::*;

fn load(text: &str) -> Result<(), TestCaseError> {
    let source = Source {
        path: "stack.yaml".into(),
        display: "stack.yaml".into(),
        text: text.to_string(),
    };
    let lines = text.split('\n').count();
    match load_source(source, "demo", &BTreeMap::new(), &BTreeMap::new()) {
        Ok(loaded) => prop_assert!(!loaded.stack.name.is_empty()),
        Err(LoadError::Invalid(invalid)) => {
            prop_assert!(!invalid.diagnostics.is_empty(), "refused without a reason");
            for d in &invalid.diagnostics {
                let Some(at) = &d.location else {
                    return Err(TestCaseError::fail(format!(
                        "`{}` has no location",
                        d.message
                    )));
                };
                prop_assert_eq!(&at.file, "stack.yaml");
                prop_assert!(
                    at.span.line >= 1 && at.span.line <= lines && at.span.col >= 1,
                    "`{}` points at {}:{} in a file of {} lines",
                    d.message,
                    at.span.line,
                    at.span.col,
                    lines
                );
                prop_assert!(!d.message.is_empty());
            }
            // What a person sees names the file and the line.
            let shown = invalid.render();
            let first = invalid.diagnostics[0].location.as_ref().unwrap();
            let place = format!("stack.yaml:{}:{}", first.span.line, first.span.col);
            prop_assert!(shown.contains(&place), "{}", shown);
        }
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "an in-memory source failed outside validation: {other}"
            )));
        }
    }
    Ok(())
}

fn repo_stack() -> String {
    std::fs::read_to_string(crate::root().join("stack.yaml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_loads_or_points_at_the_problem(text in "\\PC{0,400}") {
        load(&text)?;
    }

    #[test]
    fn yaml_shaped_text_loads_or_points_at_the_problem(text in "([a-z_<>*&${}:\\-\\[\\], \"'|]{0,12}\n {0,6}){0,30}") {
        load(&text)?;
    }

    #[test]
    fn mutated_stack_loads_or_points_at_the_problem(pos in 0usize..20_000, len in 0usize..40, insert in "[\\PC\n]{0,8}") {
        let mut text = repo_stack();
        let mut start = pos.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        text.replace_range(start..end, &insert);
        load(&text)?;
    }
}

#[test]
fn alias_bombs_are_refused_not_expanded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let start = std::time::Instant::now();
    let err = geno::stack::yaml::parse(&text).unwrap_err();
    assert!(err.message.contains("aliases"), "{}", err.message);
    // Bounded work, not a timing target: 10^12 nodes would never finish.
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn the_repository_stack_loads_and_a_broken_one_points_at_its_line() {
    load(&repo_stack()).unwrap();
    let broken = repo_stack().replacen("services:", "services: [", 1);
    let source = Source {
        path: "stack.yaml".into(),
        display: "stack.yaml".into(),
        text: broken,
    };
    let Err(LoadError::Invalid(invalid)) =
        load_source(source, "demo", &BTreeMap::new(), &BTreeMap::new())
    else {
        panic!("a broken flow sequence loads");
    };
    assert!(invalid.diagnostics[0].location.is_some());
    load(&repo_stack().replacen("services:", "services: [", 1)).unwrap();
}
