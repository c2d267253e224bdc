//! Runs of one character (a ladder's padding and arrow shafts), appended a slice at a time:
//! pushed a `char` at a time, they were a sixth of the drawing thread's work.

const BLANKS: &str = "                                                                ";
const DASHES: &str = "────────────────────────────────────────────────────────────────";

/// Append `n` copies of `c` to `s`.
pub fn push_run(s: &mut String, c: char, n: usize) {
    let run = match c {
        ' ' => BLANKS,
        '─' => DASHES,
        _ => {
            s.extend(std::iter::repeat_n(c, n));
            return;
        }
    };
    let w = c.len_utf8();
    let mut left = n;
    while left > 0 {
        let k = left.min(run.len() / w);
        s.push_str(&run[..k * w]);
        left -= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_repeats_of_their_char() {
        for c in [' ', '─', 'x', '│'] {
            for n in [0, 1, 2, 63, 64, 65, 200] {
                let mut s = String::from("a");
                push_run(&mut s, c, n);
                assert_eq!(s, format!("a{}", c.to_string().repeat(n)), "{c:?} x {n}");
            }
        }
    }
}
