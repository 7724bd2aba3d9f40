//! A small XML reader, enough for JUnit reports: elements, attributes, text,
//! CDATA, comments, processing instructions, a DOCTYPE, and the predefined
//! and numeric character references. No namespaces, no DTD entities.

/// An element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Attributes in document order, values decoded.
    pub attrs: Vec<(String, String)>,
    /// Child elements and text.
    pub children: Vec<Node>,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Text (decoded) or CDATA.
    Text(String),
}

impl Element {
    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The element's own text (not its descendants').
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

/// Parses a document and returns its root element.
pub fn parse(input: &str) -> Result<Element, String> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            if stack.len() > 1 {
                push(&mut stack, Node::Text(decode(&rest[..end])));
            } else if !rest[..end].trim().is_empty() {
                return Err(at(input, pos, "text outside the root element"));
            }
            pos += end;
        } else if rest.starts_with("<?") {
            pos += find(input, pos, "?>")? + 2;
        } else if rest.starts_with("<!--") {
            pos += find(input, pos, "-->")? + 3;
        } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata
                .find("]]>")
                .ok_or_else(|| at(input, pos, "unterminated CDATA section"))?;
            push(&mut stack, Node::Text(cdata[..end].to_owned()));
            pos += "<![CDATA[".len() + end + 3;
        } else if rest.starts_with("<!") {
            // DOCTYPE, possibly with an internal subset in brackets.
            let close = rest.find('>').unwrap_or(rest.len());
            let end = match rest[..close].find('[') {
                Some(_) => find(input, pos, "]>")? + 2,
                None => find(input, pos, ">")? + 1,
            };
            pos += end;
        } else if let Some(closing) = rest.strip_prefix("</") {
            let end = closing
                .find('>')
                .ok_or_else(|| at(input, pos, "unterminated end tag"))?;
            let name = closing[..end].trim();
            if stack.len() < 2 {
                return Err(at(input, pos, &format!("unexpected end tag </{name}>")));
            }
            let element = stack.pop().unwrap_or_default();
            if element.name != name {
                return Err(at(
                    input,
                    pos,
                    &format!("end tag </{name}> does not close <{}>", element.name),
                ));
            }
            push(&mut stack, Node::Element(element));
            pos += 2 + end + 1;
        } else {
            let (element, self_closing, used) = start_tag(rest).map_err(|e| at(input, pos, &e))?;
            if stack.len() == 1 && stack[0].elements().next().is_some() {
                return Err(at(input, pos, "a second root element"));
            }
            if self_closing {
                push(&mut stack, Node::Element(element));
            } else {
                stack.push(element);
            }
            pos += used;
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map(|e| e.name.clone()).unwrap_or_default();
        return Err(format!("the document ends inside <{open}>"));
    }
    stack
        .pop()
        .and_then(|doc| {
            doc.children.into_iter().find_map(|c| match c {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
        })
        .ok_or_else(|| "the document has no root element".to_owned())
}

fn push(stack: &mut [Element], node: Node) {
    if let Some(top) = stack.last_mut() {
        top.children.push(node);
    }
}

fn find(input: &str, pos: usize, needle: &str) -> Result<usize, String> {
    input[pos..]
        .find(needle)
        .ok_or_else(|| at(input, pos, &format!("missing `{needle}`")))
}

fn at(input: &str, pos: usize, message: &str) -> String {
    let line = input[..pos].matches('\n').count() + 1;
    format!("line {line}: {message}")
}

fn is_name_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '/' | '>' | '=' | '<' | '"' | '\'')
}

/// Parses `<name attr="v" ...>` or `<name .../>` at the start of `text`:
/// the element, whether it closes itself, and the bytes used.
fn start_tag(text: &str) -> Result<(Element, bool, usize), String> {
    let mut pos = 1;
    let name_len = text[pos..]
        .find(|c: char| !is_name_char(c))
        .unwrap_or(text.len() - pos);
    if name_len == 0 {
        return Err("a tag without a name".to_owned());
    }
    let mut element = Element {
        name: text[pos..pos + name_len].to_owned(),
        ..Element::default()
    };
    pos += name_len;
    loop {
        pos += text[pos..].len() - text[pos..].trim_start().len();
        let rest = &text[pos..];
        if rest.starts_with("/>") {
            return Ok((element, true, pos + 2));
        }
        if rest.starts_with('>') {
            return Ok((element, false, pos + 1));
        }
        if rest.is_empty() {
            return Err(format!("unterminated tag <{}>", element.name));
        }
        let attr_len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        if attr_len == 0 {
            return Err(format!("unexpected character in tag <{}>", element.name));
        }
        let attr = rest[..attr_len].to_owned();
        pos += attr_len;
        pos += text[pos..].len() - text[pos..].trim_start().len();
        if !text[pos..].starts_with('=') {
            return Err(format!("attribute `{attr}` has no value"));
        }
        pos += 1;
        pos += text[pos..].len() - text[pos..].trim_start().len();
        let quote = text[pos..]
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("attribute `{attr}` value is not quoted"))?;
        pos += 1;
        let len = text[pos..]
            .find(quote)
            .ok_or_else(|| format!("attribute `{attr}` value is not closed"))?;
        element.attrs.push((attr, decode(&text[pos..pos + len])));
        pos += len + 1;
    }
}

/// Replaces character and predefined entity references.
pub fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let decoded = after.find(';').filter(|&end| end <= 12).and_then(|end| {
            let entity = &after[1..end];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = if let Some(hex) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse().ok()
                    } else {
                        None
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_elements_attributes_text_and_cdata() {
        let doc = parse(
            "\u{feff}<?xml version=\"1.0\"?>\n<!DOCTYPE x>\n<!-- c -->\n<a k='1 &amp; 2' j=\"&#10;&#x41;\">t&lt;x&gt;<b/><c><![CDATA[<raw> & ]]></c>tail</a>\n",
        )
        .unwrap();
        assert_eq!(doc.name, "a");
        assert_eq!(doc.attr("k"), Some("1 & 2"));
        assert_eq!(doc.attr("j"), Some("\nA"));
        assert_eq!(doc.text(), "t<x>tail");
        let children: Vec<&str> = doc.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(children, ["b", "c"]);
        assert_eq!(doc.elements().nth(1).unwrap().text(), "<raw> & ");
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(parse("<a><b></a>").unwrap_err().contains("does not close"));
        assert!(parse("<a>").unwrap_err().contains("ends inside <a>"));
        assert!(parse("").unwrap_err().contains("no root"));
        assert!(parse("not xml").unwrap_err().contains("outside the root"));
        assert!(parse("<a x=1/>").unwrap_err().contains("not quoted"));
    }

    #[test]
    fn unknown_entities_stay_literal() {
        assert_eq!(decode("a &nbsp; b & c &#xZZ;"), "a &nbsp; b & c &#xZZ;");
    }
}
