//! ALB success-code matchers: `200`, `200,202`, `200-299`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    ranges: Vec<(u16, u16)>,
}

impl Matcher {
    /// Parses a matcher with the ALB's limits (HTTP codes 200–499).
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let code = |s: &str| -> Result<u16, String> {
                let n: u16 = s
                    .trim()
                    .parse()
                    .map_err(|_| format!("matcher `{text}`: `{s}` is not an HTTP status code"))?;
                if (200..=499).contains(&n) {
                    Ok(n)
                } else {
                    Err(format!(
                        "matcher `{text}`: the ALB accepts codes 200–499, found {n}"
                    ))
                }
            };
            let range = match part.split_once('-') {
                Some((lo, hi)) => (code(lo)?, code(hi)?),
                None => {
                    let c = code(part)?;
                    (c, c)
                }
            };
            if range.0 > range.1 {
                return Err(format!("matcher `{text}`: range `{part}` is backwards"));
            }
            ranges.push(range);
        }
        Ok(Matcher { ranges })
    }

    pub fn matches(&self, status: u16) -> bool {
        self.ranges
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_lists_and_ranges() {
        let m = Matcher::parse("200,202,300-399").unwrap();
        assert!(m.matches(200) && m.matches(202) && m.matches(350));
        assert!(!m.matches(201) && !m.matches(404));
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(
            Matcher::parse("200-x").unwrap_err(),
            "matcher `200-x`: `x` is not an HTTP status code"
        );
        assert_eq!(
            Matcher::parse("100").unwrap_err(),
            "matcher `100`: the ALB accepts codes 200–499, found 100"
        );
        assert_eq!(
            Matcher::parse("299-200").unwrap_err(),
            "matcher `299-200`: range `299-200` is backwards"
        );
    }
}
