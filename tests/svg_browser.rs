//! The SVG as a person sees it: headless Chromium draws `captures/basic.pcap`'s picture and
//! the screenshot must have the SVG's size and not be blank. Skips with a message where
//! `/usr/bin/chromium` is missing, unless `SYNFIN_REQUIRE_BROWSER=1`, where it fails.

use assert_cmd::Command;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";

/// How long Chromium may take for one screenshot.
const DEADLINE: Duration = Duration::from_secs(120);

/// The `width` and `height` attributes of the root `<svg>` element.
fn svg_size(svg: &str) -> (u32, u32) {
    let root = &svg[svg.find("<svg").expect("an <svg> element")..];
    let root = &root[..root.find('>').expect("the <svg> tag ends")];
    let attr = |name: &str| -> u32 {
        let key = format!(" {name}=\"");
        let start = root
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in {root}"))
            + key.len();
        let len = root[start..].find('"').expect("the attribute ends");
        root[start..start + len]
            .parse()
            .expect("a whole number of px")
    };
    (attr("width"), attr("height"))
}

/// Width and height from the PNG signature and IHDR chunk (bytes 16..24, big-endian).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24,
        "a PNG is longer than {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "IHDR comes first");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    (be(16), be(20))
}

/// Decode the PNG and count its distinct pixel values (up to a few).
fn distinct_pixels(bytes: &[u8]) -> usize {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("a readable PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("one frame");
    let px = info.color_type.samples() * usize::from(info.bit_depth as u8).div_ceil(8);
    let mut seen: Vec<&[u8]> = Vec::new();
    for p in buf[..info.buffer_size()].chunks_exact(px) {
        if !seen.contains(&p) {
            seen.push(p);
            if seen.len() >= 16 {
                break;
            }
        }
    }
    seen.len()
}

/// Run Chromium to screenshot `url` at `w`×`h` into `png`, waiting at most `DEADLINE`.
fn screenshot(url: &str, png: &Path, profile: &Path, w: u32, h: u32) -> Result<(), String> {
    let child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={w},{h}"))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {CHROMIUM}: {e}"))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(format!(
            "chromium exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
        Ok(Err(e)) => Err(format!("waiting for chromium: {e}")),
        Err(_) => {
            // SAFETY: kill(2) has no memory effects. `pid` is our own child and the waiting
            // thread has not reported it reaped, so the id still names it (barring a reap in
            // the instant since the deadline passed).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            Err(format!("chromium took longer than {DEADLINE:?}"))
        }
    }
}

#[test]
fn chromium_draws_the_svg_at_its_size() {
    if !Path::new(CHROMIUM).exists() {
        let msg = format!("{CHROMIUM} is missing (apt-get install chromium)");
        if std::env::var("SYNFIN_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("SYNFIN_REQUIRE_BROWSER=1 but {msg}");
        }
        eprintln!("skipping the browser test: {msg}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("basic.svg");
    let png_path = dir.path().join("basic.png");
    let profile = dir.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args([
            "replay",
            "captures/basic.pcap",
            "-f",
            "svg",
            "--payload",
            "-o",
        ])
        .arg(&svg_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let (w, h) = svg_size(&svg);
    assert!(w >= 800 && h >= 300, "an SVG of {w}×{h}");

    let url = format!("file://{}", svg_path.display());
    screenshot(&url, &png_path, &profile, w, h).unwrap();
    let bytes = std::fs::read(&png_path).expect("chromium wrote the screenshot");
    assert_eq!(
        png_size(&bytes),
        (w, h),
        "the screenshot has the SVG's size"
    );
    assert!(
        bytes.len() > 5 * 1024,
        "a screenshot of {} bytes is too small to hold the ladder",
        bytes.len()
    );
    assert!(
        distinct_pixels(&bytes) >= 8,
        "the screenshot is (nearly) blank"
    );
}

#[test]
fn sizes_are_read_from_svg_and_png_headers() {
    assert_eq!(
        svg_size(
            "<?xml?>\n<svg xmlns=\"x\" width=\"1200\" height=\"597\" viewBox=\"0 0 1200 597\">"
        ),
        (1200, 597)
    );
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(1200u32.to_be_bytes());
    png.extend(597u32.to_be_bytes());
    png.extend([8, 6, 0, 0, 0]);
    assert_eq!(png_size(&png), (1200, 597));
}
