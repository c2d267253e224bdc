//! Every Mermaid diagram synfin writes, for every capture in `captures/`, parses with Mermaid's
//! own parser (the npm package under node; `.ci/run` installs it with `npm ci` in
//! tests/mermaid). The Markdown document (`--format mermaid`), one file per connection
//! (`-o DIR/`) and a single diagram (`-o x.mmd`) are all checked. Skips with a message when
//! node or the package is missing, unless SYNFIN_REQUIRE_MERMAID=1 (CI), which fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

fn parser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mermaid")
}

fn parser_ready() -> bool {
    let node = Command::new("node").arg("--version").output().is_ok();
    let pkg = parser_dir()
        .join("node_modules/mermaid/package.json")
        .exists();
    if node && pkg {
        return true;
    }
    let why = if node {
        "tests/mermaid/node_modules is missing (run: npm ci --prefix tests/mermaid)"
    } else {
        "node is missing"
    };
    assert!(
        std::env::var_os("SYNFIN_REQUIRE_MERMAID").is_none(),
        "SYNFIN_REQUIRE_MERMAID is set but {why}"
    );
    eprintln!("SKIPPED: Mermaid's parser is not here: {why}");
    false
}

fn synfin(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synfin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Parse `files`; the number of diagrams parsed.
fn parse(files: &[PathBuf]) -> usize {
    let out = Command::new("node")
        .arg(parser_dir().join("parse.mjs"))
        .args(files)
        .current_dir(parser_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Mermaid's parser refused a diagram: {}{}",
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    stdout
        .trim()
        .strip_suffix(" diagrams parsed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected parser output: {stdout}"))
}

#[test]
fn every_diagram_of_every_capture_parses() {
    if !parser_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let caps = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&caps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    names.sort();
    let (mut markdown, mut singles) = (Vec::new(), Vec::new());
    let mut connections = 0;
    for cap in &names {
        let stem = cap.file_name().unwrap().to_string_lossy().to_string();
        let md = dir.path().join(format!("{stem}.md"));
        synfin(&["replay", cap.to_str().unwrap(), "-o", md.to_str().unwrap()]);
        let text = std::fs::read_to_string(&md).unwrap();
        let n = text.matches("```mermaid").count();
        assert!(n > 0, "{stem}: no diagram");
        connections += n;
        markdown.push(md);
        let per = dir.path().join(format!("{stem}-conns/"));
        synfin(&["replay", cap.to_str().unwrap(), "-o", per.to_str().unwrap()]);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&per)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), n, "{stem}: one file per connection");
        singles.append(&mut files);
    }
    // Each connection parses in the Markdown document and in its own file.
    assert_eq!(parse(&markdown), connections);
    assert_eq!(parse(&singles), connections);
    // A single .mmd of a one-connection capture is a bare diagram that parses.
    let one = dir.path().join("basic.mmd");
    synfin(&[
        "replay",
        caps.join("basic.pcap").to_str().unwrap(),
        "-o",
        one.to_str().unwrap(),
    ]);
    assert!(!std::fs::read_to_string(&one).unwrap().contains("```"));
    assert_eq!(parse(&[one]), 1);
}
