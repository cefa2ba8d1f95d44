//! What a method condition covers: the one home of implied methods.

/// The methods a method condition written as `upper` (upper-cased) covers: itself, and for
/// `GET` also `HEAD`, since a HEAD request is a GET without the body.
pub(crate) fn covered(upper: &str) -> impl Iterator<Item = &str> {
    let implied = (upper == "GET").then_some("HEAD");
    std::iter::once(upper).chain(implied)
}

#[cfg(test)]
mod tests {
    use super::covered;

    #[test]
    fn get_covers_head_and_nothing_else_implies() {
        assert_eq!(covered("GET").collect::<Vec<_>>(), ["GET", "HEAD"]);
        assert_eq!(covered("HEAD").collect::<Vec<_>>(), ["HEAD"]);
        assert_eq!(covered("POST").collect::<Vec<_>>(), ["POST"]);
    }
}
