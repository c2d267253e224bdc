//! Drawing the model into a ratatui `Buffer`: a pure function of the model (and the area),
//! so that every screen snapshots through ratatui's `TestBackend`. Colour only when the
//! model's `opts.color` says (decided once from `--color` and NO_COLOR by the caller); the
//! selection is shown reversed, which is not a colour.

use super::conn::ConnEntry;
use super::keys::HELP;
use super::model::{Model, Prompt, Screen};
use crate::events::{Outcome, TcpState};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

/// The strip's rows: a name and the states it counts.
const STRIP_ROWS: &[(&str, &[TcpState])] = &[
    ("TIME_WAIT", &[TcpState::TimeWait]),
    ("CLOSE_WAIT", &[TcpState::CloseWait]),
    ("ESTABLISHED", &[TcpState::Established]),
    ("handshake", &[TcpState::SynSent, TcpState::SynReceived]),
    (
        "closing",
        &[
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::Closing,
            TcpState::LastAck,
        ],
    ),
];

/// Lines the ladder screen gives the ladder, for a screen of `size`.
pub fn ladder_height(size: (u16, u16)) -> usize {
    usize::from(size.1.saturating_sub(4)).max(1)
}

/// Columns the ladder gets.
pub fn ladder_width(size: (u16, u16)) -> usize {
    usize::from(size.0.saturating_sub(2))
}

/// Paint only with colour on.
struct Paint {
    color: bool,
}

impl Paint {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn state(&self, s: TcpState) -> Style {
        match s {
            TcpState::Established => self.fg(Color::Green),
            TcpState::TimeWait => self.fg(Color::Yellow),
            TcpState::CloseWait => self.fg(Color::Magenta),
            TcpState::SynSent | TcpState::SynReceived => self.fg(Color::Cyan),
            _ => Style::default(),
        }
    }

    fn outcome(&self, o: Outcome) -> Style {
        match o {
            Outcome::Reset | Outcome::Aborted | Outcome::Refused => self.fg(Color::Red),
            Outcome::Open => self.fg(Color::Green),
            _ => Style::default(),
        }
    }
}

/// Draw the whole screen.
pub fn draw(m: &Model, area: Rect, buf: &mut Buffer) {
    if area.height < 3 || area.width < 20 {
        buf.set_stringn(
            area.x,
            area.y,
            "synfin: too small",
            area.width as usize,
            Style::default(),
        );
        return;
    }
    let paint = Paint {
        color: m.opts.color,
    };
    title_line(m, Rect { height: 1, ..area }, buf);
    let body = Rect {
        y: area.y + 1,
        height: area.height - 2,
        ..area
    };
    match m.screen {
        Screen::List => {
            let strip_h = if body.height >= 14 {
                STRIP_ROWS.len() as u16 + 1
            } else {
                0
            };
            let list = Rect {
                height: body.height - strip_h,
                ..body
            };
            draw_list(m, list, buf, &paint);
            if strip_h > 0 {
                let strip = Rect {
                    y: list.y + list.height,
                    height: strip_h,
                    ..body
                };
                draw_strip(m, strip, buf, &paint);
            }
        }
        Screen::Ladder => draw_ladder(m, body, buf),
    }
    status_line(
        m,
        Rect {
            y: area.y + area.height - 1,
            height: 1,
            ..area
        },
        buf,
    );
    if m.help {
        draw_help(area, buf);
    }
}

fn title_line(m: &Model, area: Rect, buf: &mut Buffer) {
    let open = m.conns.values().filter(|c| !c.ended()).count();
    let mut t = format!(
        " synfin · {} · {} connection{}, {} open",
        if m.follow { "FOLLOW" } else { "PAUSED" },
        m.seen,
        if m.seen == 1 { "" } else { "s" },
        open
    );
    if m.evicted > 0 {
        t.push_str(&format!(" · {} ended left the list", m.evicted));
    }
    if m.finished {
        t.push_str(" · end of input");
    }
    t.push_str(&format!(
        " · {} {}",
        m.meta.source,
        crate::text::printable(&m.meta.input)
    ));
    let style = Style::default().add_modifier(Modifier::REVERSED);
    buf.set_style(area, style);
    buf.set_stringn(area.x, area.y, t, area.width as usize, style);
}

/// `s` cut (with `…`) or padded to `w` columns.
fn cell(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else if w == 0 {
        String::new()
    } else {
        let mut c: String = s.chars().take(w - 1).collect();
        c.push('…');
        c
    }
}

/// A state in at most 11 columns (BSD's SYN_RCVD for SYN_RECEIVED).
fn state_name(s: TcpState) -> &'static str {
    match s {
        TcpState::Unknown => "?",
        TcpState::SynReceived => "SYN_RCVD",
        s => s.name(),
    }
}

/// `850µs`, `12ms`, `3.4s`, `12m`, `5h`: an age in at most 5 columns.
pub fn age_text(ns: i64) -> String {
    let ns = ns.max(0);
    if ns < 1_000_000 {
        format!("{}µs", ns / 1000)
    } else if ns < 1_000_000_000 {
        format!("{}ms", ns / 1_000_000)
    } else if ns < 10_000_000_000 {
        format!("{:.1}s", ns as f64 / 1e9)
    } else if ns < 60_000_000_000 {
        format!("{}s", ns / 1_000_000_000)
    } else if ns < 3_600_000_000_000 {
        format!("{}m", ns / 60_000_000_000)
    } else {
        format!("{}h", ns / 3_600_000_000_000)
    }
}

/// The list's column widths: id, client, server, two states, outcome, age, anomalies,
/// owner (0 when no connection's owner is known).
fn columns(width: usize, owner: bool) -> [usize; 9] {
    let owner_w = if owner { 16 } else { 0 };
    let fixed = 4 + 11 + 11 + 10 + 5 + 3 + owner_w;
    let gaps = if owner { 8 } else { 7 };
    let ends = width.saturating_sub(fixed + gaps).max(16);
    let client = ends - ends / 2;
    [4, client, ends / 2, 11, 11, 10, 5, 3, owner_w]
}

fn draw_list(m: &Model, area: Rect, buf: &mut Buffer, paint: &Paint) {
    let v = m.visible();
    let owner = v.iter().any(|c| c.owner.is_some());
    let cols = columns(area.width as usize, owner);
    let mut head = vec![
        "id",
        "client",
        "server",
        "client st.",
        "server st.",
        "outcome",
        "age",
        "!",
    ];
    if owner {
        head.push("owner");
    }
    let mut x = area.x;
    let hs = Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    for (h, w) in head.iter().zip(cols) {
        buf.set_stringn(x, area.y, cell(h, w), w, hs);
        x += w as u16 + 1;
    }
    let rows = usize::from(area.height.saturating_sub(1));
    if v.is_empty() {
        let why = if m.filter.is_some() && !m.conns.is_empty() {
            "no connection passes the filter (f to change it)"
        } else {
            "no TCP connection yet"
        };
        buf.set_stringn(
            area.x + 1,
            area.y + 1,
            why,
            area.width as usize - 1,
            Style::default(),
        );
        return;
    }
    let sel = m.selected_in(&v);
    // The selection stays in view: at the bottom when it is below the first page.
    let top = match sel {
        Some(i) if i >= rows => i + 1 - rows,
        _ => 0,
    };
    for (k, c) in v.iter().skip(top).take(rows).enumerate() {
        let y = area.y + 1 + k as u16;
        draw_row(m, c, &cols, area.x, y, buf, paint);
        if sel == Some(top + k) {
            let row = Rect {
                y,
                height: 1,
                ..area
            };
            buf.set_style(row, Style::default().add_modifier(Modifier::REVERSED));
        }
    }
}

fn draw_row(
    m: &Model,
    c: &ConnEntry,
    cols: &[usize; 9],
    x0: u16,
    y: u16,
    buf: &mut Buffer,
    paint: &Paint,
) {
    let ep = |e: Option<crate::events::Endpoint>| e.map_or("?".to_string(), |e| e.to_string());
    let outcome = c.outcome();
    let anomalies = match c.anomalies {
        0 => String::new(),
        n @ 1..=99 => n.to_string(),
        _ => "99+".into(),
    };
    let age = age_text(m.now.since(c.first));
    let owner = c
        .owner
        .as_deref()
        .map(crate::text::printable)
        .unwrap_or_default();
    let cells: [(String, Style); 9] = [
        (c.id.to_string(), Style::default()),
        (ep(c.client), Style::default()),
        (ep(c.server), Style::default()),
        (state_name(c.states[0]).into(), paint.state(c.states[0])),
        (state_name(c.states[1]).into(), paint.state(c.states[1])),
        (outcome.as_str().into(), paint.outcome(outcome)),
        (age, Style::default()),
        (anomalies, paint.fg(Color::Magenta)),
        (owner.to_string(), Style::default()),
    ];
    let mut x = x0;
    for ((text, style), &w) in cells.iter().zip(cols) {
        if w == 0 {
            continue;
        }
        // The id right-aligned, the rest left.
        let t = if x == x0 {
            format!("{text:>w$}")
        } else {
            cell(text, w)
        };
        buf.set_stringn(x, y, t, w, *style);
        x += w as u16 + 1;
    }
}

/// Sparkline glyphs, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn draw_strip(m: &Model, area: Rect, buf: &mut Buffer, paint: &Paint) {
    let samples = m.strip.samples();
    let span = age_text(m.strip.span_ns() * samples.len().max(1) as i64);
    let head = format!("── sockets by state, peak per column, over the last {span} ");
    let rule: String = head
        .chars()
        .chain(std::iter::repeat('─'))
        .take(area.width as usize)
        .collect();
    buf.set_stringn(area.x, area.y, rule, area.width as usize, Style::default());
    let label_w = 12;
    let count_w = 7;
    let graph_w = (area.width as usize).saturating_sub(label_w + count_w + 10);
    for (k, (name, states)) in STRIP_ROWS.iter().enumerate() {
        let y = area.y + 1 + k as u16;
        if y >= area.y + area.height {
            break;
        }
        let sum = |c: &super::strip::Counts| -> u32 { states.iter().map(|&s| c[s as usize]).sum() };
        let now = sum(&m.counts);
        let series: Vec<u32> = samples.iter().map(sum).collect();
        let cols = resample(&series, graph_w);
        let peak = cols.iter().copied().max().unwrap_or(0);
        let graph: String = cols
            .iter()
            .map(|&v| {
                if v == 0 || peak == 0 {
                    ' '
                } else {
                    BARS[((v as u64 * 7).div_ceil(peak as u64) as usize).min(7)]
                }
            })
            .collect();
        let style = paint.state(states[0]);
        buf.set_stringn(area.x, y, cell(name, label_w), label_w, style);
        buf.set_stringn(
            area.x + label_w as u16,
            y,
            format!("{now:>6} "),
            count_w,
            Style::default(),
        );
        let gx = area.x + (label_w + count_w) as u16;
        buf.set_stringn(gx, y, format!("{graph:>graph_w$}"), graph_w, style);
        buf.set_stringn(
            gx + graph_w as u16,
            y,
            format!(" peak {peak}"),
            10,
            Style::default(),
        );
    }
}

/// `series` in at most `n` columns, each the peak of the samples it covers.
fn resample(series: &[u32], n: usize) -> Vec<u32> {
    if series.len() <= n || n == 0 {
        return series.to_vec();
    }
    (0..n)
        .map(|j| {
            let (a, b) = (j * series.len() / n, (j + 1) * series.len() / n);
            series[a..b.max(a + 1)].iter().copied().max().unwrap_or(0)
        })
        .collect()
}

fn draw_ladder(m: &Model, area: Rect, buf: &mut Buffer) {
    let Some(c) = m.selected_conn() else {
        Paragraph::new("no connection selected (Esc: back to the list)").render(area, buf);
        return;
    };
    let lines = super::export::ladder_lines(c, &m.opts, usize::from(area.width.saturating_sub(2)));
    let h = usize::from(area.height.saturating_sub(2));
    let max_top = lines.len().saturating_sub(h);
    let top = if m.follow {
        max_top
    } else {
        m.ladder_top.min(max_top)
    };
    let title = format!(
        " conn {} · lines {}–{} of {} · {} ",
        c.id,
        (top + 1).min(lines.len()),
        (top + h).min(lines.len()),
        lines.len(),
        if m.follow { "following" } else { "paused" }
    );
    let shown: Vec<Line> = lines[top..]
        .iter()
        .take(h)
        .map(|l| super::ansi::line(l))
        .collect();
    Paragraph::new(shown)
        .block(Block::bordered().title(title))
        .render(area, buf);
}

fn status_line(m: &Model, area: Rect, buf: &mut Buffer) {
    let text = match &m.prompt {
        Some(Prompt::Filter(t)) => format!("filter (tcpdump's words; empty: none): {t}▏"),
        Some(Prompt::Search(t)) => format!("search: {t}▏"),
        Some(Prompt::Export) => {
            "export the selected connection: l ladder text, s SVG, m Mermaid, p pcap (Esc: cancel)"
                .to_string()
        }
        None => match &m.message {
            Some(msg) => crate::text::printable(msg).into_owned(),
            None if m.screen == Screen::Ladder => {
                "Esc:list ↑↓ PgUp PgDn:scroll g:top G:end/follow e:export ?:help q:quit".into()
            }
            None => {
                let mut s = format!(
                    "?:help q:quit Enter:ladder f:filter /:search a:anomaly s:sort({}{})",
                    m.sort.name(),
                    if m.reverse { "↓" } else { "" }
                );
                if let Some((f, _)) = &m.filter {
                    s.push_str(&format!(" · filter: {}", crate::text::printable(f)));
                }
                s
            }
        },
    };
    buf.set_stringn(area.x, area.y, text, area.width as usize, Style::default());
}

fn draw_help(area: Rect, buf: &mut Buffer) {
    let w = 62.min(area.width);
    let h = (HELP.len() as u16 + 4).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(r, buf);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| Line::from(format!("{k:<14}{what}")))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from("any key closes this help"));
    Paragraph::new(lines)
        .block(Block::bordered().title(" keys "))
        .render(r, buf);
}
