//! Field selectors: `messages[*].content[*].text`, `system`, `contents[*].parts[*].inlineData.data@base64`.

use serde_json::Value;
use std::fmt;

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    /// `[*]`: every element of an array.
    AllItems,
    /// `.*`: every value of an object.
    AllValues,
    /// `[field=value]`: the object itself, or each object of an array, whose `field` is the
    /// string `value`; `[!field]`: whose `field` is absent (the ops of a JSON-patch stream
    /// that touch one path, and the bare ones that continue the last).
    Where(String, Option<String>),
}

impl Step {
    /// Whether `v` is an object the `Where` step `(field, value)` takes.
    fn takes<T: Tree>(field: &str, value: Option<&str>, v: &T) -> bool {
        v.is_object()
            && match value {
                Some(want) => v.field(field).and_then(Tree::text) == Some(want),
                None => v.field(field).is_none(),
            }
    }

    /// Where a `Where` step goes on from `v`: the items of an array it takes, or `v` itself.
    fn taken<'v, 's, T: Tree>(
        field: &'s str,
        value: Option<&'s str>,
        v: &'v T,
    ) -> impl Iterator<Item = &'v T> + use<'v, 's, T> {
        let own = v.items().is_none() && Step::takes(field, value, v);
        v.items()
            .unwrap_or_default()
            .iter()
            .filter(move |c| Step::takes(field, value, *c))
            .chain(own.then_some(v))
    }
}

/// One step of a concrete location in a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Field(String),
    Index(usize),
}

/// A compiled field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    steps: Vec<Step>,
    /// `@base64`: the value is base64 (or a `data:` URL) to decode before scanning.
    pub base64: bool,
    source: String,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Selector {
    /// Parses `a.b[*].c[0].*@base64`, `v[p=/message/content/parts/0].v`, `[!p].v`.
    pub fn parse(source: &str) -> Result<Selector, String> {
        let (path, base64) = match source.strip_suffix("@base64") {
            Some(p) => (p, true),
            None => (source, false),
        };
        let mut steps = Vec::new();
        for part in path.split('.') {
            if part.is_empty() {
                return Err(format!("selector `{source}` has an empty field name"));
            }
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            match name {
                "" => {}
                "*" => steps.push(Step::AllValues),
                n if n.contains([']', '@', '*']) => {
                    return Err(format!("selector `{source}`: `{n}` is not a field name"))
                }
                n => steps.push(Step::Field(n.to_string())),
            }
            while !rest.is_empty() {
                let close = rest
                    .find(']')
                    .ok_or_else(|| format!("selector `{source}`: `[` without `]`"))?;
                let inner = &rest[1..close];
                if inner == "*" {
                    steps.push(Step::AllItems);
                } else if let Some(field) = inner.strip_prefix('!').filter(|f| !f.is_empty()) {
                    steps.push(Step::Where(field.to_string(), None));
                } else if let Some((field, value)) =
                    inner.split_once('=').filter(|(f, _)| !f.is_empty())
                {
                    steps.push(Step::Where(field.to_string(), Some(value.to_string())));
                } else {
                    let n = inner.parse::<usize>().map_err(|_| {
                        format!("selector `{source}`: `[{inner}]` must be `[*]`, an index, `[field=value]` or `[!field]`")
                    })?;
                    steps.push(Step::Index(n));
                }
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(format!("selector `{source}`: unexpected `{rest}`"));
                }
            }
        }
        if steps.is_empty() {
            return Err(format!("selector `{source}` selects nothing"));
        }
        Ok(Selector {
            steps,
            base64,
            source: source.to_string(),
        })
    }

    /// Every string value the selector reaches, with its concrete location.
    pub(crate) fn strings<'v>(&self, doc: &'v Value, out: &mut Vec<(Vec<Key>, &'v str)>) {
        let mut path = Vec::new();
        walk(&self.steps, doc, &mut path, out);
    }

    /// Every string value the selector reaches, in document order, without its location.
    pub(crate) fn each_str<'v, T: Tree>(&self, doc: &'v T, f: &mut dyn FnMut(&'v str)) {
        fn go<'v, T: Tree>(steps: &[Step], v: &'v T, f: &mut dyn FnMut(&'v str)) {
            let Some((step, rest)) = steps.split_first() else {
                if let Some(s) = v.text() {
                    f(s);
                }
                return;
            };
            match step {
                Step::Field(name) => {
                    if let Some(child) = v.field(name) {
                        go(rest, child, f);
                    }
                }
                Step::Index(i) => {
                    if let Some(child) = v.items().and_then(|items| items.get(*i)) {
                        go(rest, child, f);
                    }
                }
                Step::AllItems => {
                    for child in v.items().unwrap_or_default() {
                        go(rest, child, f);
                    }
                }
                Step::AllValues => v.values(&mut |child| go(rest, child, f)),
                Step::Where(field, value) => {
                    Step::taken(field, value.as_deref(), v).for_each(|c| go(rest, c, f))
                }
            }
        }
        go(&self.steps, doc, f);
    }

    /// The first whole number the selector reaches (token counts).
    pub(crate) fn first_number<T: Tree>(&self, doc: &T) -> Option<u64> {
        fn go<T: Tree>(steps: &[Step], v: &T) -> Option<u64> {
            let Some((step, rest)) = steps.split_first() else {
                return v.whole();
            };
            match step {
                Step::Field(name) => go(rest, v.field(name)?),
                Step::Index(i) => go(rest, v.items()?.get(*i)?),
                Step::AllItems => v.items()?.iter().find_map(|c| go(rest, c)),
                Step::Where(field, value) => {
                    Step::taken(field, value.as_deref(), v).find_map(|c| go(rest, c))
                }
                Step::AllValues => {
                    let mut first = None;
                    v.values(&mut |c| {
                        if first.is_none() {
                            first = go(rest, c);
                        }
                    });
                    first
                }
            }
        }
        go(&self.steps, doc)
    }
}

/// What selectors walk: a whole `serde_json::Value`, or a [`Node`] parsed through a
/// [`Reach`].
pub(crate) trait Tree: Sized {
    /// The string this is, if it is one.
    fn text(&self) -> Option<&str>;
    /// The whole non-negative number this is, if it is one.
    fn whole(&self) -> Option<u64>;
    /// The value of field `name`, if this is an object that has it.
    fn field(&self, name: &str) -> Option<&Self>;
    /// The items, if this is an array.
    fn items(&self) -> Option<&[Self]>;
    /// Each field's value, if this is an object.
    fn values<'s>(&'s self, f: &mut dyn FnMut(&'s Self));
    fn is_object(&self) -> bool;
}

impl Tree for Value {
    fn text(&self) -> Option<&str> {
        self.as_str()
    }
    fn whole(&self) -> Option<u64> {
        self.as_u64()
    }
    fn field(&self, name: &str) -> Option<&Self> {
        self.as_object()?.get(name)
    }
    fn items(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(&'s Self)) {
        if let Value::Object(map) = self {
            map.values().for_each(f);
        }
    }
    fn is_object(&self) -> bool {
        self.is_object()
    }
}

/// A document as far as a [`Reach`] goes: strings borrowed from the input where they hold no
/// escapes, objects as their fields in order (nothing hashed, nothing else kept).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Str(std::borrow::Cow<'a, str>),
    /// A number: `Some` when it is whole and not negative.
    Num(Option<u64>),
    /// `null` or a boolean.
    Other,
    Arr(Vec<Node<'a>>),
    Obj(Vec<(std::borrow::Cow<'a, str>, Node<'a>)>),
}

impl Tree for Node<'_> {
    fn text(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
    fn whole(&self) -> Option<u64> {
        match self {
            Node::Num(n) => *n,
            _ => None,
        }
    }
    fn field(&self, name: &str) -> Option<&Self> {
        match self {
            // The last of repeated keys, as a parsed `Value` keeps it.
            Node::Obj(fields) => fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            Node::Arr(items) => Some(items),
            _ => None,
        }
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(&'s Self)) {
        if let Node::Obj(fields) = self {
            fields.iter().for_each(|(_, v)| f(v));
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Node::Obj(_))
    }
}

/// What a set of selectors can reach in a document, as a tree: parsing a document through it
/// ([`Reach::parse`]) builds only those parts and skips the rest without allocating, which is
/// most of a provider's reply (ids, roles, log-probabilities, safety ratings).
#[derive(Debug, Default, Clone)]
pub(crate) struct Reach {
    fields: Vec<(String, Reach)>,
    any_field: Option<Box<Reach>>,
    items: Option<Box<Reach>>,
}

impl Reach {
    pub(crate) fn of<'s>(selectors: impl IntoIterator<Item = &'s Selector>) -> Reach {
        let mut root = Reach::default();
        for s in selectors {
            root.insert(&s.steps);
        }
        root
    }

    fn insert(&mut self, steps: &[Step]) {
        match steps.split_first() {
            // A selector ends here: what it reaches is a string or a number, which every
            // reached position keeps.
            None => {}
            Some((Step::Field(name), rest)) => {
                let at = match self.fields.iter().position(|(n, _)| n == name) {
                    Some(i) => i,
                    None => {
                        self.fields.push((name.clone(), Reach::default()));
                        self.fields.len() - 1
                    }
                };
                self.fields[at].1.insert(rest);
            }
            Some((Step::AllValues, rest)) => self.any_field.get_or_insert_default().insert(rest),
            // The test's field is kept wherever the step may apply: on this object, or on
            // each item of this array.
            Some((Step::Where(field, _), rest)) => {
                let test = [Step::Field(field.clone())];
                self.insert(&test);
                self.insert(rest);
                let items = self.items.get_or_insert_default();
                items.insert(&test);
                items.insert(rest);
            }
            Some((Step::Index(_) | Step::AllItems, rest)) => {
                self.items.get_or_insert_default().insert(rest)
            }
        }
    }

    /// `bytes` as JSON with only what the selectors reach (`None`: not JSON). An array is
    /// read element by element with the same reach where no selector says otherwise (a
    /// stream sent as one JSON array of events).
    pub(crate) fn parse<'b>(&self, bytes: &'b [u8]) -> Option<Node<'b>> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let v = self.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(v)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &Reach {
    type Value = Node<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// A key as the deserializer has it: borrowed when it holds no escapes.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_string()))
    }
}

impl<'de> serde::de::Visitor<'de> for &Reach {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Num(u64::try_from(v).ok()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Num(Some(v)))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node<'de>, E> {
        Ok(Node::Num(None))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(std::borrow::Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(std::borrow::Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(std::borrow::Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Other)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let item = self.items.as_deref().unwrap_or(self);
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(item)? {
            out.push(v);
        }
        Ok(Node::Arr(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let child = self
                .fields
                .iter()
                .find(|(n, _)| *n == *key)
                .map(|(_, r)| r)
                .or(self.any_field.as_deref());
            match child {
                Some(r) => out.push((key, map.next_value_seed(r)?)),
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Node::Obj(out))
    }
}

fn walk<'v>(steps: &[Step], v: &'v Value, path: &mut Vec<Key>, out: &mut Vec<(Vec<Key>, &'v str)>) {
    let Some((step, rest)) = steps.split_first() else {
        if let Value::String(s) = v {
            out.push((path.clone(), s));
        }
        return;
    };
    match (step, v) {
        (Step::Field(name), Value::Object(map)) => {
            if let Some(child) = map.get(name) {
                path.push(Key::Field(name.clone()));
                walk(rest, child, path, out);
                path.pop();
            }
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                path.push(Key::Index(*i));
                walk(rest, child, path, out);
                path.pop();
            }
        }
        (Step::AllItems, Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Key::Index(i));
                walk(rest, child, path, out);
                path.pop();
            }
        }
        (Step::Where(field, value), Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                if Step::takes(field, value.as_deref(), child) {
                    path.push(Key::Index(i));
                    walk(rest, child, path, out);
                    path.pop();
                }
            }
        }
        (Step::Where(field, value), Value::Object(_))
            if Step::takes(field, value.as_deref(), v) =>
        {
            walk(rest, v, path, out);
        }
        (Step::AllValues, Value::Object(map)) => {
            for (k, child) in map {
                path.push(Key::Field(k.clone()));
                walk(rest, child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Every string in a document (for bodies of unknown endpoints).
pub(crate) fn all_strings<'v>(
    v: &'v Value,
    path: &mut Vec<Key>,
    out: &mut Vec<(Vec<Key>, &'v str)>,
) {
    match v {
        Value::String(s) => out.push((path.clone(), s)),
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Key::Index(i));
                all_strings(child, path, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, child) in map {
                path.push(Key::Field(k.clone()));
                all_strings(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// `messages[0].content[1].text`
pub(crate) fn display(path: &[Key]) -> String {
    let mut s = String::new();
    for k in path {
        match k {
            Key::Field(f) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(f);
            }
            Key::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    if s.is_empty() {
        s.push_str("(body)");
    }
    s
}

/// The value at a concrete location, for rewriting.
pub(crate) fn get_mut<'v>(mut v: &'v mut Value, path: &[Key]) -> Option<&'v mut Value> {
    for k in path {
        v = match (k, v) {
            (Key::Field(f), Value::Object(map)) => map.get_mut(f)?,
            (Key::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_parsed_through_its_reach_keeps_what_selectors_reach_and_nothing_else() {
        let sels: Vec<Selector> = ["choices[*].delta.content", "usage.prompt_tokens", "model"]
            .iter()
            .map(|s| Selector::parse(s).unwrap())
            .collect();
        let reach = Reach::of(&sels);
        let doc = br#"{"id":"c\u0031","mod\u0065l":"gpt","choices":[{"index":0,"delta":{"role":"a","content":"x\ny"},"logprobs":{"content":[1,2,3]}}],"usage":{"prompt_tokens":7,"total_tokens":9},"extra":[{"a":1}]}"#;
        let v = reach.parse(doc).unwrap();
        use std::borrow::Cow::Borrowed as B;
        assert_eq!(
            v,
            Node::Obj(vec![
                (B("model"), Node::Str(B("gpt"))),
                (
                    B("choices"),
                    Node::Arr(vec![Node::Obj(vec![(
                        B("delta"),
                        Node::Obj(vec![(B("content"), Node::Str("x\ny".to_string().into()))])
                    )])])
                ),
                (
                    B("usage"),
                    Node::Obj(vec![(B("prompt_tokens"), Node::Num(Some(7)))])
                ),
            ]),
            "an escaped key is matched, the rest left out"
        );
        // A stream sent as one JSON array is read element by element.
        let arr = reach
            .parse(br#"[{"model":"a","id":1},{"model":"b"}]"#)
            .unwrap();
        assert_eq!(
            arr,
            Node::Arr(vec![
                Node::Obj(vec![(B("model"), Node::Str(B("a")))]),
                Node::Obj(vec![(B("model"), Node::Str(B("b")))]),
            ])
        );
        let mut found = Vec::new();
        sels[0].each_str(&v, &mut |s| found.push(s.to_string()));
        assert_eq!(found, ["x\ny"]);
        assert_eq!(sels[1].first_number(&v), Some(7));
        assert!(reach.parse(b"{not json").is_none());
        assert!(reach.parse(br#"{"model":"a"} trailing"#).is_none());
    }
    use serde_json::json;

    fn texts(sel: &str, doc: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        Selector::parse(sel).unwrap().strings(doc, &mut out);
        out.into_iter()
            .map(|(p, s)| (display(&p), s.to_string()))
            .collect()
    }

    #[test]
    fn selectors_reach_strings_only_and_name_their_location() {
        let doc = json!({"messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"x"}}]}
        ]});
        assert_eq!(
            texts("messages[*].content", &doc),
            vec![("messages[0].content".into(), "be brief".into())]
        );
        assert_eq!(
            texts("messages[*].content[*].text", &doc),
            vec![("messages[1].content[0].text".into(), "hello".into())]
        );
        assert_eq!(texts("messages[1].content[0].text", &doc).len(), 1);
        assert_eq!(texts("messages[5].content", &doc).len(), 0);
        assert_eq!(texts("messages[*].*", &doc).len(), 3, "role, content, role");
    }

    #[test]
    fn a_where_step_takes_the_objects_whose_field_matches_or_is_absent() {
        const PART: &str = "[p=/message/content/parts/0].v";
        // ChatGPT's delta encoding: an append at the text's pointer, a bare continuation,
        // a status change, and a patch holding both kinds.
        let append = json!({"p": "/message/content/parts/0", "o": "append", "v": "Hel"});
        let bare = json!({"v": "lo"});
        let status = json!({"p": "/message/status", "o": "replace", "v": "done"});
        let patch = json!({"p": "", "o": "patch", "v": [
            {"p": "/message/content/parts/0", "o": "append", "v": "!"},
            {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
            {"p": "/message/content/parts/0", "o": "append", "v": "?"}]});
        assert_eq!(texts(PART, &append), vec![("v".into(), "Hel".into())]);
        assert!(texts(PART, &bare).is_empty() && texts(PART, &status).is_empty());
        assert_eq!(texts("[!p].v", &bare), vec![("v".into(), "lo".into())]);
        assert!(texts("[!p].v", &append).is_empty() && texts("[!p].v", &patch).is_empty());
        assert_eq!(
            texts("v[p=/message/content/parts/0].v", &patch),
            vec![("v[0].v".into(), "!".into()), ("v[2].v".into(), "?".into())],
            "the status change is not text"
        );
        // The light tree keeps the tested field, so it reads the same.
        let sel = Selector::parse("v[p=/message/content/parts/0].v").unwrap();
        let reach = Reach::of([&sel]);
        let text = patch.to_string();
        let node = reach.parse(text.as_bytes()).unwrap();
        let mut found = Vec::new();
        sel.each_str(&node, &mut |s| found.push(s.to_string()));
        assert_eq!(found, ["!", "?"]);
        let count = Selector::parse("u[k=out].n").unwrap();
        let counts = json!({"u": [{"k": "in", "n": 3}, {"k": "out", "n": 5}]});
        assert_eq!(count.first_number(&counts), Some(5));
        assert!(
            Selector::parse("v[p=]").is_ok(),
            "an empty value is a value"
        );
    }

    #[test]
    fn bad_selectors_are_refused_with_the_reason() {
        for bad in ["", "a..b", "a[x]", "a[", "a]b", "a[*]b", "a[!]", "a[=x]"] {
            assert!(Selector::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Selector::parse("a.b@base64").unwrap().base64);
    }
}
