//! The SVG as a person sees it: headless Chromium draws `captures/basic.pcap`'s picture on
//! a page of another colour, and the screenshot must show the picture at the size the SVG
//! declares, with each lifeline, arrow and state box where and in the colour the SVG says. Skips with a message where
//! `/usr/bin/chromium` is missing, unless `SYNFIN_REQUIRE_BROWSER=1`, where it fails.

use assert_cmd::Command;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

mod support;
use support::cdp::{skip_without_browser, CHROMIUM, HEADLESS};

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

/// The value of attribute `name` in one tag, if present.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// A number attribute of a tag.
fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {tag}"))
}

/// `#rrggbb`.
fn hex(c: &str) -> [u8; 3] {
    let c = c
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("not #rrggbb: {c}"));
    let byte = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap();
    [byte(0), byte(2), byte(4)]
}

/// What the SVG draws, in page coordinates (each `<g transform="translate(x,y)">` applied).
#[derive(Debug, Default)]
struct Drawing {
    /// Vertical lines: the lifelines (x, y1, y2).
    lifelines: Vec<(f64, f64, f64)>,
    /// Horizontal lines: the arrows' shafts (y, x1, x2).
    shafts: Vec<(f64, f64, f64)>,
    /// Filled shapes and the colour at their centre: arrowheads and state boxes.
    fills: Vec<((f64, f64), [u8; 3], String)>,
}

fn drawing(svg: &str) -> Drawing {
    let mut d = Drawing::default();
    let mut origin = vec![(0.0, 0.0)];
    for tag in svg.split('<').skip(1) {
        let tag = format!(" {}", &tag[..tag.find('>').expect("the tag ends")]);
        let (ox, oy) = *origin.last().unwrap();
        if tag.starts_with(" g ") {
            let t = attr(&tag, "transform").unwrap_or("translate(0,0)");
            let (x, y) = t
                .strip_prefix("translate(")
                .and_then(|t| t.strip_suffix(')'))
                .and_then(|t| t.split_once(','))
                .unwrap_or_else(|| panic!("a plain translate: {t}"));
            origin.push((
                ox + x.parse::<f64>().unwrap(),
                oy + y.parse::<f64>().unwrap(),
            ));
        } else if tag.starts_with(" /g") {
            origin.pop();
        } else if tag.starts_with(" line ") {
            let (x1, y1, x2, y2) = (
                ox + num(&tag, "x1"),
                oy + num(&tag, "y1"),
                ox + num(&tag, "x2"),
                oy + num(&tag, "y2"),
            );
            if x1 == x2 {
                d.lifelines.push((x1, y1.min(y2), y1.max(y2)));
            } else if y1 == y2 {
                d.shafts.push((y1, x1.min(x2), x1.max(x2)));
            }
        } else if tag.starts_with(" polygon ") {
            let points: Vec<(f64, f64)> = attr(&tag, "points")
                .unwrap()
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            let n = points.len() as f64;
            let cx = points.iter().map(|p| p.0).sum::<f64>() / n;
            let cy = points.iter().map(|p| p.1).sum::<f64>() / n;
            let fill = attr(&tag, "fill").unwrap();
            d.fills.push(((ox + cx, oy + cy), hex(fill), tag.clone()));
        } else if tag.starts_with(" rect ") && num(&tag, "width") < 100.0 {
            // State boxes (the background rect is checked as the picture's extent).
            let cx = ox + num(&tag, "x") + num(&tag, "width") / 2.0;
            let cy = oy + num(&tag, "y") + num(&tag, "height") / 2.0;
            d.fills
                .push(((cx, cy), hex(attr(&tag, "fill").unwrap()), tag.clone()));
        }
    }
    d
}

/// A decoded screenshot.
struct Shot {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn decode(bytes: &[u8]) -> Shot {
        let mut reader = png::Decoder::new(bytes)
            .read_info()
            .expect("a readable PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("one frame");
        assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit samples");
        let n = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("a {other:?} screenshot"),
        };
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(n)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Shot {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y * self.width + x) as usize]
    }

    /// The smallest box holding every pixel that is not `page`: (x0, y0, x1, y1), exclusive.
    fn extent_apart_from(&self, page: [u8; 3]) -> Option<(u32, u32, u32, u32)> {
        let mut b: Option<(u32, u32, u32, u32)> = None;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.at(x, y) != page {
                    let e = b.get_or_insert((x, y, x + 1, y + 1));
                    *e = (e.0.min(x), e.1.min(y), e.2.max(x + 1), e.3.max(y + 1));
                }
            }
        }
        b
    }
}

/// How far apart two colours are: the largest channel difference.
fn distance(a: [u8; 3], b: [u8; 3]) -> u8 {
    (0..3).map(|i| a[i].abs_diff(b[i])).max().unwrap()
}

/// Ink: visibly not the white background (anti-aliased edges count).
fn inked(c: [u8; 3]) -> bool {
    distance(c, WHITE) > 16
}

const WHITE: [u8; 3] = [0xff, 0xff, 0xff];
/// The page around the picture, a colour the SVG never uses.
const MAGENTA: [u8; 3] = [0xff, 0x00, 0xff];

/// Check the screenshot of a page that shows the SVG at (0, 0) on magenta: the picture
/// covers exactly its declared size, its background is white, and every lifeline, arrow
/// shaft, arrowhead and state box is drawn where and in the colour the SVG says.
fn check_drawing(shot: &Shot, svg: &str) -> Result<(), String> {
    let (w, h) = svg_size(svg);
    let extent = shot.extent_apart_from(MAGENTA);
    if extent != Some((0, 0, w, h)) {
        return Err(format!(
            "the picture covers {extent:?}, the SVG declares {w}×{h} at (0, 0)"
        ));
    }
    for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
        if shot.at(x, y) != WHITE {
            return Err(format!(
                "the corner ({x}, {y}) is {:?}, not white",
                shot.at(x, y)
            ));
        }
    }
    let d = drawing(svg);
    if d.lifelines.len() < 2 || d.shafts.len() < 10 || d.fills.len() < 20 {
        return Err(format!("too little in the SVG to check: {d:?}"));
    }
    let mostly = |hits: usize, of: usize| hits * 100 >= of * 95;
    // A 1 px line at a whole coordinate falls on the two pixels either side of it.
    for &(x, y1, y2) in &d.lifelines {
        let (x, rows) = (x as u32, y1 as u32 + 2..y2 as u32 - 1);
        let hits = rows
            .clone()
            .filter(|&y| inked(shot.at(x - 1, y)) || inked(shot.at(x, y)))
            .count();
        if !mostly(hits, rows.len()) {
            return Err(format!(
                "the lifeline at x={x} shows on {hits} of {} rows",
                rows.len()
            ));
        }
    }
    for &(y, x1, x2) in &d.shafts {
        let (y, cols) = (y as u32, x1 as u32 + 2..x2 as u32 - 1);
        let hits = cols
            .clone()
            .filter(|&x| inked(shot.at(x, y - 1)) || inked(shot.at(x, y)))
            .count();
        if !mostly(hits, cols.len()) {
            return Err(format!(
                "the arrow at y={y} shows on {hits} of {} columns",
                cols.len()
            ));
        }
    }
    for ((cx, cy), fill, tag) in &d.fills {
        let got = shot.at(*cx as u32, *cy as u32);
        if distance(got, *fill) > 24 {
            return Err(format!(
                "at ({cx:.0}, {cy:.0}) the screenshot has {got:?}, the SVG fills {fill:?}:{tag}"
            ));
        }
    }
    // Ink is the exception: most of the picture is its white background.
    let white = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| shot.at(x, y) == WHITE)
        .count();
    if white * 2 < (w * h) as usize {
        return Err(format!("only {white} of {w}×{h} pixels are background"));
    }
    Ok(())
}

/// Run Chromium to screenshot `url` at `w`×`h` into `png`, waiting at most `DEADLINE`.
fn screenshot(url: &str, png: &Path, profile: &Path, w: u32, h: u32) -> Result<(), String> {
    let child = std::process::Command::new(CHROMIUM)
        .args(HEADLESS)
        .arg("--hide-scrollbars")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={w},{h}"))
        .arg("--force-device-scale-factor=1")
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
fn chromium_draws_the_svg_as_it_declares() {
    if skip_without_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("basic.svg");
    let page_path = dir.path().join("page.html");
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
    // The SVG as an image (so a browser parses it as XML, at its own size) on a magenta page
    // with room around it: where the picture ends shows.
    std::fs::write(
        &page_path,
        "<!doctype html><html><body style=\"margin:0;background:#ff00ff\">\
         <img src=\"basic.svg\" style=\"display:block\"></body></html>",
    )
    .unwrap();
    let url = format!("file://{}", page_path.display());
    screenshot(&url, &png_path, &profile, w + 100, h + 100).unwrap();
    let bytes = std::fs::read(&png_path).expect("chromium wrote the screenshot");
    let shot = Shot::decode(&bytes);
    assert_eq!((shot.width, shot.height), (w + 100, h + 100), "the window");
    check_drawing(&shot, &svg).unwrap();
}

#[test]
fn the_svg_is_read_for_its_size_and_shapes() {
    let svg = "<?xml?>\n<svg xmlns=\"x\" width=\"1200\" height=\"597\" viewBox=\"0 0 1200 597\">\n\
        <rect x=\"0\" y=\"0\" width=\"1200\" height=\"597\" fill=\"#ffffff\"/>\n\
        <g transform=\"translate(0,100)\">\n\
        <line x1=\"348\" y1=\"52\" x2=\"348\" y2=\"560\" stroke=\"#546e7a\"/>\n\
        <line x1=\"943\" y1=\"146\" x2=\"362\" y2=\"146\" stroke=\"#2e7d32\"/>\n\
        <polygon points=\"353,146 362,141.5 362,150.5\" fill=\"#2e7d32\"/>\n\
        <rect x=\"343\" y=\"74\" width=\"10\" height=\"24\" fill=\"#e0e0e0\"/>\n\
        </g>\n<line x1=\"1\" y1=\"5\" x2=\"1\" y2=\"9\"/>\n</svg>\n";
    assert_eq!(svg_size(svg), (1200, 597));
    let d = drawing(svg);
    assert_eq!(d.lifelines, [(348.0, 152.0, 660.0), (1.0, 5.0, 9.0)]);
    assert_eq!(d.shafts, [(246.0, 362.0, 943.0)]);
    let fills: Vec<((f64, f64), [u8; 3])> = d.fills.iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(
        fills,
        [
            ((359.0, 246.0), [0x2e, 0x7d, 0x32]),
            ((348.0, 186.0), [0xe0, 0xe0, 0xe0])
        ]
    );
}
