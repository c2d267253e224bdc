//! The one-way house: every top-level module of `src/` may import only the modules listed
//! for it here (ARCHITECTURE.md draws the same picture). A `use crate::x` that runs back up,
//! or a module nobody placed, fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module and what it may import. Order: lowest layer first.
const ALLOWED: &[(&str, &[&str])] = &[
    ("timestamp", &[]),
    ("text", &[]),
    ("segment", &["timestamp"]),
    ("frame", &["timestamp"]),
    ("events", &["segment", "text", "timestamp"]),
    ("kernel", &["events", "segment", "timestamp"]),
    ("capture", &["frame", "kernel", "timestamp"]),
    ("decode", &["frame", "segment", "timestamp"]),
    ("tracker", &["events", "segment", "timestamp"]),
    ("filter_expr", &["segment"]),
    ("filter", &["events", "filter_expr", "segment", "timestamp"]),
    (
        "render",
        &["events", "filter", "segment", "text", "timestamp"],
    ),
    ("cli", &["events"]),
    (
        "tui",
        &[
            "events",
            "filter_expr",
            "frame",
            "render",
            "text",
            "timestamp",
        ],
    ),
    (
        "pipeline",
        &[
            "capture",
            "cli",
            "decode",
            "events",
            "filter",
            "filter_expr",
            "frame",
            "kernel",
            "render",
            "segment",
            "text",
            "timestamp",
            "tracker",
        ],
    ),
    (
        "demo",
        &[
            "capture",
            "cli",
            "decode",
            "events",
            "filter",
            "frame",
            "kernel",
            "pipeline",
            "render",
            "segment",
            "text",
            "timestamp",
            "tracker",
        ],
    ),
    (
        "app",
        &[
            "capture",
            "cli",
            "demo",
            "events",
            "filter",
            "filter_expr",
            "frame",
            "kernel",
            "pipeline",
            "render",
            "segment",
            "text",
            "timestamp",
            "tracker",
            "tui",
        ],
    ),
];

/// `crate::x` paths named anywhere in a file (uses and inline paths alike).
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = tail;
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_imports_only_from_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        seen.insert(top.clone());
        let Some(ok) = allowed.get(top.as_str()) else {
            wrong.push(format!(
                "{}: module `{top}` has no place in ALLOWED",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for r in crate_refs(&text) {
            if r != top && !ok.contains(&r.as_str()) {
                wrong.push(format!("{}: `{top}` imports `crate::{r}`", rel.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    // Every module placed is real (the table does not rot).
    for (m, _) in ALLOWED {
        assert!(
            seen.contains(*m),
            "ALLOWED names `{m}`, which src/ no longer has"
        );
    }
}

#[test]
fn the_layer_table_itself_has_no_cycle() {
    // Each module may only import modules listed before it.
    for (i, (m, deps)) in ALLOWED.iter().enumerate() {
        let below: Vec<&str> = ALLOWED[..i].iter().map(|(n, _)| *n).collect();
        for d in *deps {
            assert!(
                below.contains(d),
                "`{m}` may import `{d}`, which is not below it"
            );
        }
    }
}
