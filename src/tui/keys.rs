//! Keys → changes of the model, and the commands only the caller can carry out (quitting,
//! resolving a filter's names, writing an export). Pure: the terminal's key events are
//! turned into [`Key`] by the caller.

use super::model::{Model, Prompt, Screen};

/// A key, as the view understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character.
    Char(char),
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Ctrl-C.
    Interrupt,
}

/// What the caller must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Leave.
    Quit,
    /// Parse this filter (names need the system's resolver) and apply it.
    Filter(String),
    /// Write the selected connection out.
    Export(ExportKind),
}

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The ladder as text.
    Ladder,
    /// The ladder as SVG.
    Svg,
    /// A Mermaid sequence diagram.
    Mermaid,
    /// Its frames as pcap.
    Pcap,
}

impl ExportKind {
    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportKind::Ladder => "txt",
            ExportKind::Svg => "svg",
            ExportKind::Mermaid => "mmd",
            ExportKind::Pcap => "pcap",
        }
    }
}

/// The keys, for the help screen: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓ k j", "move or scroll (stops following)"),
    ("PgUp PgDn", "a page up or down"),
    ("Home End g G", "first, last (G follows again)"),
    ("Enter", "open the connection's ladder"),
    ("Esc", "back to the list"),
    ("space p", "follow the newest / pause"),
    ("s  r", "sort by the next column, reverse"),
    ("f", "filter: tcpdump's words (port 80, host ::1)"),
    ("/  n", "search the list, next match"),
    ("a", "next connection with an anomaly"),
    ("e", "export: l ladder, s SVG, m Mermaid, p pcap"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

impl Model {
    /// One key.
    pub fn handle_key(&mut self, key: Key) -> Option<Command> {
        if key == Key::Interrupt {
            return Some(Command::Quit);
        }
        if let Some(p) = self.prompt.take() {
            return self.prompt_key(p, key);
        }
        if self.help {
            // Any key closes the help (q still quits).
            self.help = false;
            return (key == Key::Char('q')).then_some(Command::Quit);
        }
        self.message = None;
        let page = usize::from(self.size.1.saturating_sub(10)).max(1);
        match (self.screen, key) {
            (_, Key::Char('q')) => return Some(Command::Quit),
            (_, Key::Char('?')) => self.help = true,
            (_, Key::Char(' ' | 'p')) => self.follow = !self.follow,
            (_, Key::Char('e')) => self.prompt = Some(Prompt::Export),
            (Screen::List, Key::Char('f')) => {
                let text = self.filter.as_ref().map(|(t, _)| t.clone());
                self.prompt = Some(Prompt::Filter(text.unwrap_or_default()));
            }
            (Screen::List, Key::Char('/')) => self.prompt = Some(Prompt::Search(String::new())),
            (Screen::List, Key::Char('n')) => self.search_next(),
            (Screen::List, Key::Char('a')) => self.next_anomaly(),
            (Screen::List, Key::Char('s')) => self.sort = self.sort.next(),
            (Screen::List, Key::Char('r')) => self.reverse = !self.reverse,
            (Screen::List, Key::Enter) => {
                self.pin();
                self.screen = Screen::Ladder;
                self.ladder_top = 0;
            }
            (Screen::List, Key::Up | Key::Char('k')) => self.move_by(-1),
            (Screen::List, Key::Down | Key::Char('j')) => self.move_by(1),
            (Screen::List, Key::PageUp) => self.move_by(-(page as isize)),
            (Screen::List, Key::PageDown) => self.move_by(page as isize),
            (Screen::List, Key::Home | Key::Char('g')) => self.move_by(isize::MIN / 2),
            (Screen::List, Key::End | Key::Char('G')) => self.move_by(isize::MAX / 2),
            (Screen::Ladder, Key::Esc | Key::Backspace) => self.screen = Screen::List,
            (Screen::Ladder, Key::Up | Key::Char('k')) => self.scroll(-1),
            (Screen::Ladder, Key::Down | Key::Char('j')) => self.scroll(1),
            (Screen::Ladder, Key::PageUp) => self.scroll(-(page as isize)),
            (Screen::Ladder, Key::PageDown) => self.scroll(page as isize),
            (Screen::Ladder, Key::Home | Key::Char('g')) => {
                self.follow = false;
                self.ladder_top = 0;
            }
            (Screen::Ladder, Key::End | Key::Char('G')) => self.follow = true,
            _ => {}
        }
        None
    }

    fn prompt_key(&mut self, p: Prompt, key: Key) -> Option<Command> {
        match (p, key) {
            (_, Key::Esc) => {}
            (Prompt::Export, Key::Char(c)) => {
                let kind = match c {
                    'l' | 't' => ExportKind::Ladder,
                    's' => ExportKind::Svg,
                    'm' => ExportKind::Mermaid,
                    'p' => ExportKind::Pcap,
                    _ => return None,
                };
                return Some(Command::Export(kind));
            }
            (Prompt::Export, _) => {}
            (Prompt::Filter(text), Key::Enter) => return Some(Command::Filter(text)),
            (Prompt::Search(text), Key::Enter) => {
                self.search = (!text.is_empty()).then_some(text);
                self.search_next();
            }
            (Prompt::Filter(mut text), Key::Backspace) => {
                text.pop();
                self.prompt = Some(Prompt::Filter(text));
            }
            (Prompt::Search(mut text), Key::Backspace) => {
                text.pop();
                self.prompt = Some(Prompt::Search(text));
            }
            (Prompt::Filter(mut text), Key::Char(c)) => {
                text.push(c);
                self.prompt = Some(Prompt::Filter(text));
            }
            (Prompt::Search(mut text), Key::Char(c)) => {
                text.push(c);
                self.prompt = Some(Prompt::Search(text));
            }
            (p, _) => self.prompt = Some(p),
        }
        None
    }

    /// Stop following, keeping the connection shown selected.
    fn pin(&mut self) {
        if self.follow {
            self.selected = self.selected_conn().map(|c| c.id);
            self.follow = false;
        }
    }

    fn move_by(&mut self, by: isize) {
        let v = self.visible();
        if v.is_empty() {
            return;
        }
        let at = self.selected_in(&v).unwrap_or(0) as isize;
        let to = at.saturating_add(by).clamp(0, v.len() as isize - 1) as usize;
        self.selected = Some(v[to].id);
        self.follow = false;
    }

    fn scroll(&mut self, by: isize) {
        let lines = self.selected_conn().map_or(0, |c| {
            super::export::ladder_lines(c, &self.opts, super::draw::ladder_width(self.size)).len()
        });
        let max_top = lines.saturating_sub(super::draw::ladder_height(self.size));
        if self.follow {
            // From the end, where following left it.
            self.ladder_top = max_top;
            self.follow = false;
        }
        let top = (self.ladder_top.min(max_top) as isize).saturating_add(by);
        self.ladder_top = top.clamp(0, max_top as isize) as usize;
    }

    /// Select the next shown connection (after the selected one, wrapping) that passes `ok`.
    fn select_next(&mut self, ok: impl Fn(&super::conn::ConnEntry) -> bool) -> bool {
        let v = self.visible();
        let from = self.selected_in(&v).map_or(0, |i| i + 1);
        let n = v.len();
        let found = (0..n)
            .map(|k| v[(from + k) % n])
            .find(|c| ok(c))
            .map(|c| c.id);
        if let Some(id) = found {
            self.selected = Some(id);
            self.follow = false;
        }
        found.is_some()
    }

    fn search_next(&mut self) {
        let Some(text) = self.search.clone() else {
            return;
        };
        let needle = text.to_lowercase();
        if !self.select_next(|c| Model::row_text(c).to_lowercase().contains(&needle)) {
            self.message = Some(format!("no connection matches {text:?}"));
        }
    }

    fn next_anomaly(&mut self) {
        if !self.select_next(|c| c.anomalies > 0) {
            self.message = Some("no connection with an anomaly".into());
        }
    }
}
