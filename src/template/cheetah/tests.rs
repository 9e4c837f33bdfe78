//! Unit tests of the parser and the evaluator.

use serde_json::json;

use super::{Namespace, Template};

fn ns() -> Namespace {
    Namespace::from_dump(&json!({
        "variables": {"a": "x", "n": 3, "l": ["p", "q"], "none": null},
        "masters": {"ip": {"values": ["1.1.1.1", "2.2.2.2"], "slaves": {"mask": ["255.0.0.0", "255.255.0.0"]}}},
    }))
}

fn render(t: &str) -> String {
    Template::parse("t", t).unwrap().render(&ns()).unwrap()
}

#[test]
fn placeholders() {
    assert_eq!(render("v=%%a %%n %%l %%none.\n"), "v=x 3 ['p', 'q'] .\n");
}

#[test]
fn enclosed_placeholders() {
    assert_eq!(render("%%(n + 1)|%%[n]|%%{a}"), "4|3|x");
}
