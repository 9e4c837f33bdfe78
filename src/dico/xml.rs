//! A small element tree over `quick_xml`'s event reader.
//!
//! Creole dictionaries are small (a few hundred lines) and are read once per
//! process, so a tree is cheap and makes the interpretation in `load.rs` far
//! simpler than a streaming state machine. The reader keeps the byte offset of
//! every element so errors can point at `file:line:column`: quick-xml's own
//! errors carry only a byte offset, which an admin cannot use.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// One XML element: its name, attributes (in document order), text content
/// (all text children concatenated, entities decoded) and child elements.
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
    /// Byte offset of the `<` that opens this element.
    pub offset: usize,
}

impl Element {
    /// The value of attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A syntax error: what is wrong and at which byte offset.
#[derive(Debug, Clone)]
pub struct XmlError {
    pub offset: usize,
    pub message: String,
}

/// Parses a whole document and returns its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    // Stack of open elements; the root ends up alone at the bottom.
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| XmlError {
            offset: reader.error_position() as usize,
            message: e.to_string(),
        })?;
        match event {
            Event::Start(start) => {
                let el = element_from(&start, before, &reader)?;
                if root.is_some() && stack.is_empty() {
                    return Err(XmlError {
                        offset: before,
                        message: "a second root element after the end of the document".into(),
                    });
                }
                stack.push(el);
            }
            Event::Empty(start) => {
                let el = element_from(&start, before, &reader)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => {
                        return Err(XmlError {
                            offset: before,
                            message: "a second root element after the end of the document".into(),
                        });
                    }
                }
            }
            Event::End(_) => {
                // quick-xml has already checked that the name matches.
                let Some(el) = stack.pop() else {
                    return Err(XmlError {
                        offset: before,
                        message: "a closing tag with no opening tag".into(),
                    });
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| XmlError {
                    offset: before,
                    message: format!("text is not valid: {e}"),
                })?;
                push_text(&mut stack, before, &s)?;
            }
            Event::GeneralRef(r) => {
                // An entity reference (`&amp;`, `&#233;`) inside text.
                let name = r.decode().map_err(|e| XmlError {
                    offset: before,
                    message: format!("entity reference is not valid: {e}"),
                })?;
                let resolved = resolve_entity(&name).ok_or_else(|| XmlError {
                    offset: before,
                    message: format!("unknown entity '&{name};'"),
                })?;
                push_text(&mut stack, before, &resolved)?;
            }
            Event::CData(c) => {
                let s = std::str::from_utf8(&c).map_err(|e| XmlError {
                    offset: before,
                    message: format!("CDATA is not UTF-8: {e}"),
                })?;
                push_text(&mut stack, before, s)?;
            }
            Event::Eof => break,
            // Comments, processing instructions, the XML declaration and the
            // doctype carry nothing Creole uses.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError {
            offset: open.offset,
            message: format!("element <{}> is never closed", open.name),
        });
    }
    root.ok_or(XmlError {
        offset: 0,
        message: "the file holds no XML element".into(),
    })
}

fn push_text(stack: &mut [Element], offset: usize, s: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError {
            offset,
            message: "text outside the root element".into(),
        }),
    }
}

fn resolve_entity(name: &str) -> Option<String> {
    match name {
        "amp" => Some("&".into()),
        "lt" => Some("<".into()),
        "gt" => Some(">".into()),
        "quot" => Some("\"".into()),
        "apos" => Some("'".into()),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code).map(String::from)
        }
    }
}

fn element_from(
    start: &BytesStart<'_>,
    offset: usize,
    reader: &Reader<&[u8]>,
) -> Result<Element, XmlError> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|e| XmlError {
            offset,
            message: format!("element name is not UTF-8: {e}"),
        })?
        .to_string();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError {
            offset,
            message: format!("bad attribute in <{name}>: {e}"),
        })?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|e| XmlError {
                offset,
                message: format!("attribute name in <{name}> is not UTF-8: {e}"),
            })?
            .to_string();
        let value = attr
            .decode_and_unescape_value(reader.decoder())
            .map_err(|e| XmlError {
                offset,
                message: format!("bad value for attribute '{key}' in <{name}>: {e}"),
            })?
            .into_owned();
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(XmlError {
                offset,
                message: format!("attribute '{key}' given twice in <{name}>"),
            });
        }
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        text: String::new(),
        children: Vec::new(),
        offset,
    })
}

/// Turns byte offsets into 1-based line and column (counted in characters).
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        // Count characters, not bytes: names are often accented.
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line as u32 + 1, col as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_with_text_and_entities() {
        let root = parse(
            "<?xml version='1.0'?><creole><a x='1 &amp; 2'>t&#233;xt <![CDATA[<raw>]]></a><b/></creole>",
        )
        .unwrap();
        assert_eq!(root.name, "creole");
        assert_eq!(root.children.len(), 2);
        assert_eq!(root.children[0].attr("x"), Some("1 & 2"));
        assert_eq!(root.children[0].text, "téxt <raw>");
        assert_eq!(root.children[1].name, "b");
    }

    #[test]
    fn reports_mismatched_and_unclosed_tags() {
        assert!(parse("<creole><a></b></creole>").is_err());
        let err = parse("<creole>\n  <a>").unwrap_err();
        assert!(err.message.contains("never closed"), "{}", err.message);
        assert!(parse("").is_err());
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("<a x='1' x='2'/>").is_err());
    }

    #[test]
    fn line_index_counts_characters() {
        let text = "ab\nçé<x/>\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(0), (1, 1));
        let off = text.find("<x").unwrap();
        assert_eq!(idx.line_col(off), (2, 3));
    }
}
