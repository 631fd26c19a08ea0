//! `.dockerignore` matching with Docker's rules.
//!
//! Patterns are matched against slash-separated paths relative to the build
//! context; the last matching pattern wins; `!` re-includes; a pattern
//! matching a directory matches everything below it; `*` and `?` stay within
//! one path segment and `**` spans any number of them.

#[derive(Debug, Clone)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<String>,
    exception: bool,
}

impl Rules {
    pub fn parse(text: &str) -> Rules {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|line| {
                let (exception, body) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let segments: Vec<String> = body
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(str::to_string)
                    .collect();
                (!segments.is_empty()).then_some(Pattern {
                    segments,
                    exception,
                })
            })
            .collect();
        Rules { patterns }
    }

    pub fn empty() -> Rules {
        Rules {
            patterns: Vec::new(),
        }
    }

    /// Whether `path` (relative, `/`-separated) is left out of the context.
    pub fn excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // A pattern matching the path or any of its parent directories.
            let hit = (1..=parts.len()).any(|n| match_segments(&p.segments, &parts[..n]));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether a walk must look inside an excluded directory because an
    /// exception might re-include something below it.
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .any(|p| prefix_could_match(&p.segments, &parts))
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.first() {
        None => path.is_empty(),
        Some(seg) if seg == "**" => {
            (0..=path.len()).any(|skip| match_segments(&pattern[1..], &path[skip..]))
        }
        Some(seg) => {
            !path.is_empty()
                && glob(seg.as_bytes(), path[0].as_bytes())
                && match_segments(&pattern[1..], &path[1..])
        }
    }
}

/// Could a path below `dir` match `pattern`? Compares `dir` with the
/// pattern's leading segments; `**` could match anything.
fn prefix_could_match(pattern: &[String], dir: &[&str]) -> bool {
    for (i, part) in dir.iter().enumerate() {
        match pattern.get(i) {
            None => return false,
            Some(seg) if seg == "**" => return true,
            Some(seg) if !glob(seg.as_bytes(), part.as_bytes()) => return false,
            Some(_) => {}
        }
    }
    true
}

/// One segment: `*`, `?`, `[abc]`/`[a-z]`/`[^a]`, and `\` escapes.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = p.iter().position(|c| *c == b']') else {
                return !s.is_empty() && s[0] == b'[' && glob(&p[1..], &s[1..]);
            };
            if s.is_empty() {
                return false;
            }
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some(b'^') | Some(b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let c = s[0];
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob(&p[end + 1..], &s[1..])
        }
        Some(b'\\') if p.len() > 1 => !s.is_empty() && s[0] == p[1] && glob(&p[2..], &s[1..]),
        Some(c) => !s.is_empty() && s[0] == *c && glob(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_style_as_in_the_genonaut_image() {
        let r = Rules::parse(
            "# only the package\n*\n!genonaut/\n!config/\n!pyproject.toml\n**/__pycache__\n**/*.pyc\n",
        );
        assert!(r.excluded("README.md"));
        assert!(r.excluded("target/debug/geno"));
        assert!(!r.excluded("genonaut/api/main.py"));
        assert!(!r.excluded("pyproject.toml"));
        assert!(r.excluded("genonaut/__pycache__/x.cpython-311.pyc"));
        assert!(r.excluded("genonaut/api/y.pyc"));
        assert!(!r.may_reinclude_below("target"));
        assert!(r.may_reinclude_below("genonaut"));
    }

    #[test]
    fn wildcards_stay_in_one_segment() {
        let r = Rules::parse("docs/*.md\nsecret?.txt\n");
        assert!(r.excluded("docs/a.md"));
        assert!(!r.excluded("docs/sub/a.md"));
        assert!(r.excluded("secret1.txt"));
        assert!(!r.excluded("secret12.txt"));
    }

    #[test]
    fn double_star_spans_directories_and_last_match_wins() {
        let r = Rules::parse("**/*.log\n!keep/**/important.log\n");
        assert!(r.excluded("a.log"));
        assert!(r.excluded("x/y/z.log"));
        assert!(!r.excluded("keep/deep/er/important.log"));
        assert!(!r.excluded("keep/important.log"));
    }

    #[test]
    fn leading_slash_and_dot_are_cleaned_and_classes_work() {
        let r = Rules::parse("/env\n./build\n[Tt]emp*\n");
        assert!(r.excluded("env/.env.local"));
        assert!(r.excluded("build/x"));
        assert!(r.excluded("Temp1") && r.excluded("temp2"));
        assert!(!r.excluded("stemp"));
        assert!(!Rules::empty().excluded("anything"));
    }
}
