//! Property tests: no input makes the loader panic.

use std::collections::BTreeMap;

use geno::stack::load::{Source, load_source};
use proptest::prelude::*;

fn load(text: &str) {
    let source = Source {
        path: "stack.yaml".into(),
        display: "stack.yaml".into(),
        text: text.to_string(),
    };
    // Ok or Err: both fine; a panic fails the property.
    let _ = load_source(source, "demo", &BTreeMap::new(), &BTreeMap::new());
}

fn repo_stack() -> String {
    std::fs::read_to_string(crate::root().join("stack.yaml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load(&text);
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "([a-z_<>*&${}:\\-\\[\\], \"'|]{0,12}\n {0,6}){0,30}") {
        load(&text);
    }

    #[test]
    fn mutated_stack_never_panics(pos in 0usize..20_000, len in 0usize..40, insert in "[\\PC\n]{0,8}") {
        let mut text = repo_stack();
        let mut start = pos.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        text.replace_range(start..end, &insert);
        load(&text);
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
