//! A serializer that writes nothing and only looks for NaN and infinities.
//!
//! `serde_json` turns a non-finite float into `null`, which would quietly
//! replace a number with "no value" in a state file. [`check`] walks a value
//! the way serde would write it and reports the first non-finite float with
//! the path to it (`weights.roi`, `roi_history[3]`).

use serde::Serialize;
use serde::ser;
use std::fmt;

/// Where a non-finite float was found, and what it was.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFiniteAt {
    /// Field names and indices from the outside in, e.g. `["values", "[2]", "q"]`.
    path: Vec<String>,
    /// The value that was found (NaN or ±∞).
    pub value: f64,
}

impl NonFiniteAt {
    /// The path to the value, dotted, e.g. `values[2].q`; empty for a bare float.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for part in self.path.iter().rev() {
            if !part.starts_with('[') && !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
        out
    }

    fn within(mut self, part: impl Into<String>) -> Self {
        self.path.push(part.into());
        self
    }
}

impl fmt::Display for NonFiniteAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            p if p.is_empty() => write!(f, "non-finite number {}", self.value),
            p => write!(f, "non-finite number {} at {p}", self.value),
        }
    }
}

/// Walking stopped: either a non-finite float, or a custom serializer error.
#[derive(Debug)]
pub enum Walk {
    /// A non-finite float.
    Found(NonFiniteAt),
    /// A `Serialize` impl failed on its own; the real write will report it.
    Custom(String),
}

impl fmt::Display for Walk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Walk::Found(at) => at.fmt(f),
            Walk::Custom(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Walk {}

impl ser::Error for Walk {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Walk::Custom(msg.to_string())
    }
}

impl Walk {
    fn within(self, part: impl Into<String>) -> Self {
        match self {
            Walk::Found(at) => Walk::Found(at.within(part)),
            other => other,
        }
    }
}

/// `Ok(())` when every float in `value` is finite, else where the first one is not.
/// A `Serialize` impl that fails on its own is not this check's business: it is
/// let through, and the real write reports it.
pub fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), NonFiniteAt> {
    match value.serialize(Finder) {
        Err(Walk::Found(at)) => Err(at),
        _ => Ok(()),
    }
}

struct Finder;

/// State of one compound value being walked: the index of the next element.
struct Compound {
    index: usize,
}

impl Compound {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Walk> {
        let i = self.index;
        self.index += 1;
        value
            .serialize(Finder)
            .map_err(|e| e.within(format!("[{i}]")))
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Walk> {
        value.serialize(Finder).map_err(|e| e.within(key))
    }
}

fn float(v: f64) -> Result<(), Walk> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Walk::Found(NonFiniteAt {
            path: Vec::new(),
            value: v,
        }))
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound {
            type Ok = ();
            type Error = Walk;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Walk> {
                self.element(value)
            }
            fn end(self) -> Result<(), Walk> {
                Ok(())
            }
        }
    )*};
}
elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound {
            type Ok = ();
            type Error = Walk;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Walk> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Walk> {
                Ok(())
            }
        }
    )*};
}
fields!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound {
    type Ok = ();
    type Error = Walk;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Walk> {
        key.serialize(Finder)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Walk> {
        self.element(value)
    }
    fn end(self) -> Result<(), Walk> {
        Ok(())
    }
}

macro_rules! accept {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method(self, _: $ty) -> Result<(), Walk> {
            Ok(())
        }
    )*};
}

impl ser::Serializer for Finder {
    type Ok = ();
    type Error = Walk;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = Compound;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    accept!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );

    fn serialize_f32(self, v: f32) -> Result<(), Walk> {
        float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Walk> {
        float(v)
    }
    fn serialize_none(self) -> Result<(), Walk> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Walk> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Walk> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Walk> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Walk> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Walk> {
        value.serialize(self).map_err(|e| e.within(variant))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound, Walk> {
        Ok(Compound { index: 0 })
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, _: &T) -> Result<(), Walk> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Inner {
        q: f64,
    }

    #[derive(Serialize)]
    struct Outer {
        name: String,
        history: Vec<f64>,
        values: Vec<Inner>,
        map: BTreeMap<String, f32>,
        maybe: Option<f64>,
    }

    fn outer() -> Outer {
        Outer {
            name: "bot".into(),
            history: vec![1.0, 2.0],
            values: vec![Inner { q: 0.5 }, Inner { q: 1.5 }],
            map: BTreeMap::from([("a".to_string(), 1.0)]),
            maybe: None,
        }
    }

    #[test]
    fn finite_values_pass() {
        assert_eq!(check(&outer()), Ok(()));
    }

    #[test]
    fn reports_the_path_of_the_first_non_finite_number() {
        let mut o = outer();
        o.history[1] = f64::NAN;
        assert_eq!(check(&o).unwrap_err().path(), "history[1]");
        let mut o = outer();
        o.values[1].q = f64::INFINITY;
        let err = check(&o).unwrap_err();
        assert_eq!(err.path(), "values[1].q");
        assert_eq!(err.to_string(), "non-finite number inf at values[1].q");
        let mut o = outer();
        o.map.insert("b".into(), f32::NEG_INFINITY);
        assert_eq!(check(&o).unwrap_err().path(), "map[1]");
        let mut o = outer();
        o.maybe = Some(f64::NAN);
        assert_eq!(check(&o).unwrap_err().path(), "maybe");
    }

    #[test]
    fn a_bare_float_has_an_empty_path() {
        assert_eq!(check(&f64::NAN).unwrap_err().path(), "");
        assert_eq!(check(&1.0f64), Ok(()));
    }
}
