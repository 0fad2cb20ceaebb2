//! Writing the Blob service's XML: a declaration, elements, escaped text, and `<Empty />`
//! elements the way the service writes them.

/// The declaration every Blob service XML body starts with.
pub(crate) const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// Escapes element text (`&`, `<`, `>`); quotes stay as they are, as in the service's
/// `<Etag>"0x8D…"</Etag>`. With `attribute`, double quotes are escaped too.
pub(crate) fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// An XML document under construction.
#[derive(Debug)]
pub(crate) struct Xml(String);

impl Xml {
    /// A document holding only the declaration.
    pub(crate) fn new() -> Self {
        Self(DECLARATION.to_string())
    }

    /// Opens `<tag attr="value"…>`.
    pub(crate) fn open_with(&mut self, tag: &str, attributes: &[(&str, &str)]) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        for (name, value) in attributes {
            self.0
                .push_str(&format!(" {name}=\"{}\"", escape(value, true)));
        }
        self.0.push('>');
        self
    }

    /// Opens `<tag>`.
    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        self.open_with(tag, &[])
    }

    /// Closes `</tag>`.
    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    /// `<tag>text</tag>`, or `<tag />` for empty text.
    pub(crate) fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        if text.is_empty() {
            self.0.push_str(&format!("<{tag} />"));
        } else {
            self.0
                .push_str(&format!("<{tag}>{}</{tag}>", escape(text, false)));
        }
        self
    }

    /// `<tag>text</tag>` when there is text, nothing otherwise.
    pub(crate) fn leaf_opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        match text.filter(|t| !t.is_empty()) {
            Some(text) => self.leaf(tag, text),
            None => self,
        }
    }

    /// The finished document.
    pub(crate) fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_elements_and_escapes() {
        let mut xml = Xml::new();
        xml.open_with("Root", &[("Attr", "a\"b")])
            .leaf("Name", "x<y&z \"q\"")
            .leaf("Empty", "")
            .leaf_opt("Absent", None)
            .close("Root");
        assert_eq!(
            xml.finish(),
            format!(
                "{DECLARATION}<Root Attr=\"a&quot;b\"><Name>x&lt;y&amp;z \"q\"</Name><Empty /></Root>"
            )
        );
    }
}
