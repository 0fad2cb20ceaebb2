//! Listing a component's interfaces: their functions and types in WIT syntax, read from
//! wasmtime's view of the component's type.

use wasmtime::Engine;
use wasmtime::component::types::{self, ComponentItem};
use wasmtime::component::{ResourceType, Type};

use super::{Function, TypeDef};

/// The types and resources an instance names.
#[derive(Default)]
pub(super) struct Names {
    types: Vec<(String, Type)>,
    resources: Vec<(String, ResourceType)>,
}

impl Names {
    pub(super) fn of(engine: &Engine, item: &ComponentItem) -> Names {
        let mut names = Names::default();
        if let ComponentItem::ComponentInstance(instance) = item {
            for (name, export) in instance.exports(engine) {
                match export.ty {
                    ComponentItem::Type(ty) => names.types.push((name.to_string(), ty)),
                    ComponentItem::Resource(r) => names.resources.push((name.to_string(), r)),
                    _ => {}
                }
            }
        }
        names
    }

    /// Adds `other`'s names after this one's.
    pub(super) fn extend(&mut self, other: Names) {
        self.types.extend(other.types);
        self.resources.extend(other.resources);
    }
}

/// An item's kind, functions and named types; types it does not name itself are named
/// after `everywhere` when another interface names them.
pub(super) fn describe(
    engine: &Engine,
    item: &ComponentItem,
    everywhere: &Names,
) -> (&'static str, Vec<Function>, Vec<TypeDef>) {
    let local = Names::of(engine, item);
    let printer = Printer {
        local: &local,
        everywhere,
    };
    match item {
        ComponentItem::ComponentInstance(instance) => {
            let functions = instance
                .exports(engine)
                .filter_map(|(name, export)| match export.ty {
                    ComponentItem::ComponentFunc(f) => Some(Function {
                        name: name.to_string(),
                        signature: printer.func(&f),
                    }),
                    _ => None,
                })
                .collect();
            let mut types: Vec<TypeDef> = local
                .types
                .iter()
                .map(|(name, ty)| TypeDef {
                    name: name.clone(),
                    definition: printer.definition(ty),
                })
                .collect();
            types.extend(local.resources.iter().map(|(name, _)| TypeDef {
                name: name.clone(),
                definition: "resource".into(),
            }));
            ("instance", functions, types)
        }
        ComponentItem::ComponentFunc(f) => {
            let function = Function {
                name: String::new(),
                signature: printer.func(f),
            };
            ("function", vec![function], Vec::new())
        }
        ComponentItem::Type(_) => ("type", Vec::new(), Vec::new()),
        ComponentItem::Resource(_) => ("resource", Vec::new(), Vec::new()),
        ComponentItem::Module(_) | ComponentItem::CoreFunc(_) => ("module", Vec::new(), Vec::new()),
        ComponentItem::Component(_) => ("component", Vec::new(), Vec::new()),
    }
}

/// Prints types in WIT syntax, naming the records, variants, enums, flags and resources
/// the interface (or else another interface of the component) names: wasmtime's types are
/// structural, so names are found by equality.
struct Printer<'a> {
    local: &'a Names,
    everywhere: &'a Names,
}

impl Printer<'_> {
    fn func(&self, f: &types::ComponentFunc) -> String {
        let params: Vec<String> = f
            .params()
            .map(|(name, ty)| format!("{name}: {}", self.ty(&ty)))
            .collect();
        let results: Vec<String> = f.results().map(|ty| self.ty(&ty)).collect();
        let prefix = if f.async_() { "async func" } else { "func" };
        match results.as_slice() {
            [] => format!("{prefix}({})", params.join(", ")),
            [one] => format!("{prefix}({}) -> {one}", params.join(", ")),
            many => format!("{prefix}({}) -> ({})", params.join(", "), many.join(", ")),
        }
    }

    /// A named type's definition: the type itself, expanded one level.
    fn definition(&self, ty: &Type) -> String {
        match ty {
            Type::Record(r) => {
                let fields: Vec<String> = r
                    .fields()
                    .map(|f| format!("{}: {}", f.name, self.ty(&f.ty)))
                    .collect();
                format!("record {{ {} }}", fields.join(", "))
            }
            Type::Variant(v) => {
                let cases: Vec<String> = v
                    .cases()
                    .map(|c| match c.ty {
                        Some(ty) => format!("{}({})", c.name, self.ty(&ty)),
                        None => c.name.to_string(),
                    })
                    .collect();
                format!("variant {{ {} }}", cases.join(", "))
            }
            Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
            Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
            other => self.ty(other),
        }
    }

    fn ty(&self, ty: &Type) -> String {
        let nominal = matches!(
            ty,
            Type::Record(_) | Type::Variant(_) | Type::Enum(_) | Type::Flags(_)
        );
        let named = |names: &Names| {
            names
                .types
                .iter()
                .find(|(_, t)| t == ty)
                .map(|(n, _)| n.clone())
        };
        if nominal && let Some(name) = named(self.local).or_else(|| named(self.everywhere)) {
            return name;
        }
        let resource = |r: &ResourceType| {
            let find = |names: &Names| {
                names
                    .resources
                    .iter()
                    .find(|(_, t)| t == r)
                    .map(|(n, _)| n.clone())
            };
            find(self.local)
                .or_else(|| find(self.everywhere))
                .unwrap_or_else(|| "resource".into())
        };
        match ty {
            Type::Bool => "bool".into(),
            Type::S8 => "s8".into(),
            Type::U8 => "u8".into(),
            Type::S16 => "s16".into(),
            Type::U16 => "u16".into(),
            Type::S32 => "s32".into(),
            Type::U32 => "u32".into(),
            Type::S64 => "s64".into(),
            Type::U64 => "u64".into(),
            Type::Float32 => "f32".into(),
            Type::Float64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "string".into(),
            Type::ErrorContext => "error-context".into(),
            Type::List(l) => format!("list<{}>", self.ty(&l.ty())),
            Type::FixedLengthList(l) => format!("list<{}, {}>", self.ty(&l.ty()), l.len()),
            Type::Map(m) => format!("map<{}, {}>", self.ty(&m.key()), self.ty(&m.value())),
            Type::Option(o) => format!("option<{}>", self.ty(&o.ty())),
            Type::Result(r) => match (r.ok(), r.err()) {
                (None, None) => "result".into(),
                (Some(ok), None) => format!("result<{}>", self.ty(&ok)),
                (None, Some(err)) => format!("result<_, {}>", self.ty(&err)),
                (Some(ok), Some(err)) => format!("result<{}, {}>", self.ty(&ok), self.ty(&err)),
            },
            Type::Tuple(t) => {
                let items: Vec<String> = t.types().map(|t| self.ty(&t)).collect();
                format!("tuple<{}>", items.join(", "))
            }
            Type::Own(r) => resource(r),
            Type::Borrow(r) => format!("borrow<{}>", resource(r)),
            Type::Future(f) => match f.ty() {
                Some(t) => format!("future<{}>", self.ty(&t)),
                None => "future".into(),
            },
            Type::Stream(s) => match s.ty() {
                Some(t) => format!("stream<{}>", self.ty(&t)),
                None => "stream".into(),
            },
            Type::Record(_) | Type::Variant(_) | Type::Enum(_) | Type::Flags(_) => {
                self.definition(ty)
            }
        }
    }
}
