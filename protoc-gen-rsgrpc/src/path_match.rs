//! Matching of protobuf paths in parameters, with the rules protoc-gen-prost users know.
//!
//! A pattern starting with `.` is a fully qualified prefix (`.` matches everything, `.pkg` a package,
//! `.pkg.Msg.field` one field); a pattern without the leading dot matches a suffix (`Msg.field`, `field`).
//! Both match only at `.` boundaries, so `.pkg` does not match `.pkgx.Msg`.

/// True when `pattern` selects the fully qualified path `path` (which starts with `.`).
pub fn matches(pattern: &str, path: &str) -> bool {
    if pattern == "." {
        return true;
    }
    if pattern.starts_with('.') {
        path == pattern || (path.starts_with(pattern) && path.as_bytes()[pattern.len()] == b'.')
    } else {
        path.ends_with(pattern) && path.as_bytes()[path.len() - pattern.len() - 1] == b'.'
    }
}

/// A list of patterns, each with a value; used for attributes, `bytes`, `btree_map` and extern paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathMap<T> {
    entries: Vec<(String, T)>,
}

impl<T> PathMap<T> {
    /// Adds a pattern; later patterns do not replace earlier ones.
    pub fn insert(&mut self, pattern: String, value: T) {
        self.entries.push((pattern, value));
    }

    /// All values whose pattern matches `path`, in the order given.
    pub fn all<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a T> + 'a {
        self.entries.iter().filter(move |(pattern, _)| matches(pattern, path)).map(|(_, value)| value)
    }

    /// Whether any pattern matches `path`.
    pub fn any(&self, path: &str) -> bool {
        self.all(path).next().is_some()
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The patterns and values, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries.iter().map(|(pattern, value)| (pattern.as_str(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases = [
            (".", ".a.B.c", true),
            (".a", ".a.B.c", true),
            (".a", ".ab.C", false),
            (".a.B", ".a.B", true),
            (".a.B", ".a.B.c", true),
            (".a.B.c", ".a.B", false),
            ("B.c", ".a.B.c", true),
            ("c", ".a.B.c", true),
            ("c", ".a.B.xc", false),
            ("B", ".a.B.c", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(matches(pattern, path), expected, "{pattern} ~ {path}");
        }
    }
}
