//! Go's `unicode` package: the character classes and the one-rune case mappings sprig's
//! string functions use, from the same Unicode tables Go ships (so `upper "ß"` stays
//! `ß`, as in Go, where a full case mapping would give `SS`).

use super::unicode_tables as tables;

/// The delta that marks a range of alternating upper and lower case letters (Go's
/// `unicode.UpperLower`).
pub(super) const UPPER_LOWER: i32 = 0x11_0000;

fn in_table(table: &[(u32, u32, u32)], c: char) -> bool {
    let r = u32::from(c);
    let i = table.partition_point(|&(_, hi, _)| hi < r);
    match table.get(i) {
        Some(&(lo, _, stride)) => lo <= r && (r - lo) % stride == 0,
        None => false,
    }
}

/// `unicode.IsLetter`.
pub(super) fn is_letter(c: char) -> bool {
    in_table(tables::LETTER, c)
}

/// `unicode.IsUpper`.
pub(super) fn is_upper(c: char) -> bool {
    in_table(tables::UPPER, c)
}

/// `unicode.IsLower`.
pub(super) fn is_lower(c: char) -> bool {
    in_table(tables::LOWER, c)
}

/// `unicode.IsTitle`.
pub(super) fn is_title(c: char) -> bool {
    in_table(tables::TITLE, c)
}

/// `unicode.IsNumber`.
pub(super) fn is_number(c: char) -> bool {
    in_table(tables::NUMBER, c)
}

/// `unicode.IsDigit`.
pub(super) fn is_digit(c: char) -> bool {
    in_table(tables::DIGIT, c)
}

/// `unicode.IsPunct`.
pub(super) fn is_punct(c: char) -> bool {
    in_table(tables::PUNCT, c)
}

/// `unicode.IsSpace`: Unicode's White_Space, as Rust's `char::is_whitespace`.
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

#[derive(Clone, Copy)]
enum Case {
    Upper = 0,
    Lower = 1,
    Title = 2,
}

fn to(case: Case, c: char) -> char {
    let r = u32::from(c);
    let i = tables::CASE_RANGES.partition_point(|&(_, hi, _)| hi < r);
    let Some(&(lo, _, deltas)) = tables::CASE_RANGES.get(i) else {
        return c;
    };
    if r < lo {
        return c;
    }
    let delta = deltas[case as usize];
    let mapped = if delta == UPPER_LOWER {
        // Even offsets are upper case, odd ones lower case.
        let offset = r - lo;
        match case {
            Case::Lower => lo + (offset | 1),
            Case::Upper | Case::Title => lo + (offset & !1),
        }
    } else {
        r.wrapping_add_signed(delta)
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// `unicode.ToUpper`.
pub(super) fn to_upper(c: char) -> char {
    to(Case::Upper, c)
}

/// `unicode.ToLower`.
pub(super) fn to_lower(c: char) -> char {
    to(Case::Lower, c)
}

/// `unicode.ToTitle`.
pub(super) fn to_title(c: char) -> char {
    to(Case::Title, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Go program that prints, for every code point with a class or a case mapping,
    /// `hex class-bits upper lower title` (classes: letter, upper, lower, title, number,
    /// digit, punct, space).
    const GO_TABLES: &str = r#"package main

import (
	"bufio"
	"fmt"
	"os"
	"unicode"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		bits := 0
		for i, f := range []func(rune) bool{unicode.IsLetter, unicode.IsUpper, unicode.IsLower, unicode.IsTitle, unicode.IsNumber, unicode.IsDigit, unicode.IsPunct, unicode.IsSpace} {
			if f(r) {
				bits |= 1 << i
			}
		}
		u, l, t := unicode.ToUpper(r), unicode.ToLower(r), unicode.ToTitle(r)
		if bits != 0 || u != r || l != r || t != r {
			fmt.Fprintf(w, "%x %d %x %x %x\n", r, bits, u, l, t)
		}
	}
}
"#;

    // Every code point, against Go's own `unicode` package.
    #[test]
    fn agrees_with_go_on_every_code_point() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("main.go");
        std::fs::write(&src, GO_TABLES).unwrap();
        let out = std::process::Command::new("go")
            .arg("run")
            .arg(&src)
            .env("GO111MODULE", "off")
            .output()
            .expect("go run (Go is needed for this test)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut go: std::collections::HashMap<u32, (u32, u32, u32, u32)> = Default::default();
        for line in text.lines() {
            let f: Vec<u32> = line
                .split(' ')
                .enumerate()
                .map(|(i, x)| {
                    if i == 1 {
                        x.parse().unwrap()
                    } else {
                        u32::from_str_radix(x, 16).unwrap()
                    }
                })
                .collect();
            go.insert(f[0], (f[1], f[2], f[3], f[4]));
        }
        assert!(go.len() > 100_000, "read {} code points", go.len());
        let mut differ = Vec::new();
        for r in (0..=0x10FFFF).filter_map(char::from_u32) {
            let c = u32::from(r);
            let want = go.get(&c).copied().unwrap_or((0, c, c, c));
            let classes = [
                is_letter, is_upper, is_lower, is_title, is_number, is_digit, is_punct, is_space,
            ];
            let bits = classes
                .iter()
                .enumerate()
                .filter(|(_, f)| f(r))
                .fold(0, |b, (i, _)| b | 1 << i);
            let got = (
                bits,
                u32::from(to_upper(r)),
                u32::from(to_lower(r)),
                u32::from(to_title(r)),
            );
            if got != want {
                differ.push(format!("U+{c:04X}: go {want:?}, ours {got:?}"));
            }
        }
        assert!(
            differ.is_empty(),
            "{} differ: {:?}",
            differ.len(),
            &differ[..differ.len().min(20)]
        );
    }

    #[test]
    fn maps_single_runes_as_go_does() {
        assert_eq!(to_upper('a'), 'A');
        assert_eq!(to_upper('ß'), 'ß');
        assert_eq!(to_lower('İ'), 'i');
        assert_eq!(to_title('ǆ'), 'ǅ');
        assert_eq!(to_upper('ǆ'), 'Ǆ');
        assert_eq!(to_lower('Ā'), 'ā');
        assert_eq!(to_upper('ā'), 'Ā');
        assert_eq!(to_upper('ᾳ'), 'ᾼ');
        assert!(is_punct('!') && !is_punct('$') && !is_punct('+'));
        assert!(is_letter('é') && !is_letter('1'));
        assert!(is_upper('A') && !is_upper('Ⓐ'));
    }
}
