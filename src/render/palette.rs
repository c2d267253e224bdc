//! The colours: SYN green, FIN yellow, RST red, data plain, states bold. Colour never carries
//! meaning alone: every label is also text. Painting happens only when `RenderOpts::color`.

use crate::segment::TcpFlags;
use colored::{ColoredString, Colorize};

/// Paint a segment label by its most telling flag.
pub fn segment(text: &str, flags: TcpFlags, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let c: ColoredString = if flags.rst() {
        text.red()
    } else if flags.syn() {
        text.green()
    } else if flags.fin() {
        text.yellow()
    } else {
        return text.to_string();
    };
    c.to_string()
}

/// Paint a state name.
pub fn state(text: &str, color: bool) -> String {
    if color {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// Paint a warning line.
pub fn warn(text: &str, color: bool) -> String {
    if color {
        text.magenta().to_string()
    } else {
        text.to_string()
    }
}

/// Paint a call.
pub fn call(text: &str, color: bool) -> String {
    if color {
        text.cyan().to_string()
    } else {
        text.to_string()
    }
}

/// Paint a header.
pub fn header(text: &str, color: bool) -> String {
    if color {
        text.bold().underline().to_string()
    } else {
        text.to_string()
    }
}
