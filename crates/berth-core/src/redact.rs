//! Credentials never appear in what berth writes: messages, metric labels and snapshot
//! strings built from user input pass through `redact`, which masks the user-info part of
//! `scheme://user:pass@host` and `user:pass@host` as `***@`. (The facade's `src/redact.ts`
//! applies the same rule to what JS builds.)

/// Characters that end a token: a user-info part never spans them.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || "'\"`()<>[]{},;=/".contains(c)
}

/// `text` with every `user:pass@` (and `scheme://user:pass@`) masked as `***@`.
pub fn redact(text: &str) -> String {
    if !text.contains('@') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // The next token: a run of non-delimiters (a `scheme://` prefix is part of it).
        let start = rest.find(|c: char| !is_delimiter(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let mut end = rest.find(is_delimiter).unwrap_or(rest.len());
        // `scheme://`: keep the scheme and look for user info after the slashes.
        let mut body = 0;
        if let Some(colon) = rest[..end].find("://") {
            let scheme = &rest[..colon];
            if !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            {
                body = colon + 3;
                end = rest[body..]
                    .find(is_delimiter)
                    .map_or(rest.len(), |e| body + e);
            }
        }
        let token = &rest[body..end];
        out.push_str(&rest[..body]);
        match token.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&token[at..]);
            }
            None => out.push_str(token),
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_user_info_and_keeps_the_rest() {
        assert_eq!(
            redact("invalid destination \"postgres:s3cr3tPW@db.internal:5432\": x"),
            "invalid destination \"***@db.internal:5432\": x"
        );
        assert_eq!(
            redact("redis://u:p@ss@cache:6379/0 failed"),
            "redis://***@cache:6379/0 failed"
        );
        assert_eq!(
            redact("connect to a.b:80 failed"),
            "connect to a.b:80 failed"
        );
        assert_eq!(redact("x user@host y"), "x ***@host y");
        assert!(!redact("'pg://admin:hunter2@h:5432'").contains("hunter2"));
    }
}
