//! The compact row format of the compiled-in field table (`generated.rs`).
//!
//! `generated.rs` is written by `cargo run -p dragnet-schema --example generate` from the ECS
//! definitions and the AWS integration's field files in `../shared`; the test
//! `tests/generated_is_current.rs` fails when it is out of date.

use std::borrow::Cow;

use crate::types::{FieldDef, FieldType, MultiField, Origin};

/// A multi-field in the compact table: sub-field name, type, `ignore_above` (0 = none).
#[derive(Clone, Copy)]
pub(crate) struct Multi(pub &'static str, pub FieldType, pub u32);

/// One field of the compact table. All-`Copy`, so the table is a plain static.
#[derive(Clone, Copy)]
pub(crate) struct Row {
    name: &'static str,
    ty: FieldType,
    ignore_above: u32,
    multi: &'static [Multi],
    index: bool,
    doc_values: bool,
    constant: Option<&'static str>,
    object_type: Option<FieldType>,
    scaling_factor: Option<f64>,
    origin: Origin,
}

const fn row(name: &'static str, ty: FieldType, ignore_above: u32, origin: Origin) -> Row {
    Row {
        name,
        ty,
        ignore_above,
        multi: &[],
        index: true,
        doc_values: true,
        constant: None,
        object_type: None,
        scaling_factor: None,
        origin,
    }
}

/// A field defined by ECS.
pub(crate) const fn e(name: &'static str, ty: FieldType, ignore_above: u32) -> Row {
    row(name, ty, ignore_above, Origin::Ecs)
}

/// A field defined (or overridden) by the AWS integration package.
pub(crate) const fn a(name: &'static str, ty: FieldType, ignore_above: u32) -> Row {
    row(name, ty, ignore_above, Origin::AwsIntegration)
}

impl Row {
    pub(crate) const fn multi(mut self, multi: &'static [Multi]) -> Row {
        self.multi = multi;
        self
    }
    pub(crate) const fn no_index(mut self) -> Row {
        self.index = false;
        self
    }
    pub(crate) const fn no_doc_values(mut self) -> Row {
        self.doc_values = false;
        self
    }
    pub(crate) const fn constant(mut self, value: &'static str) -> Row {
        self.constant = Some(value);
        self
    }
    pub(crate) const fn object_type(mut self, ty: FieldType) -> Row {
        self.object_type = Some(ty);
        self
    }
    pub(crate) const fn scaling(mut self, factor: f64) -> Row {
        self.scaling_factor = Some(factor);
        self
    }

    pub(crate) fn to_def(self) -> FieldDef {
        let nonzero = |n: u32| (n != 0).then_some(n);
        FieldDef {
            name: Cow::Borrowed(self.name),
            ty: self.ty,
            ignore_above: nonzero(self.ignore_above),
            multi_fields: self
                .multi
                .iter()
                .map(|m| MultiField {
                    name: Cow::Borrowed(m.0),
                    ty: m.1,
                    ignore_above: nonzero(m.2),
                    normalizer: None,
                })
                .collect(),
            normalizer: None,
            index: self.index,
            doc_values: self.doc_values,
            constant_value: self.constant.map(Cow::Borrowed),
            object_type: self.object_type,
            scaling_factor: self.scaling_factor,
            multi_field_of: None,
            flattened_root: None,
            origin: self.origin,
        }
    }
}
