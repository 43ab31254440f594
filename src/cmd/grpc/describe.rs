//! `describe`: a service, method, message or enum shown as the .proto text that declares it
//! (types by their full names, nested types inside their message), as grpcurl shows them.

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ServiceDescriptor, Syntax,
};

/// The text for `symbol`, or None when the pool has no such name.
pub fn describe(pool: &DescriptorPool, symbol: &str) -> Option<String> {
    let symbol = symbol.trim_start_matches('.');
    if let Some(s) = pool.get_service_by_name(symbol) {
        return Some(format!("{} is a service:\n{}", s.full_name(), service(&s)));
    }
    if let Some(m) = pool.get_message_by_name(symbol) {
        return Some(format!(
            "{} is a message:\n{}",
            m.full_name(),
            message(&m, "")
        ));
    }
    if let Some(e) = pool.get_enum_by_name(symbol) {
        return Some(format!(
            "{} is an enum:\n{}",
            e.full_name(),
            enumeration(&e, "")
        ));
    }
    let (svc, name) = symbol.rsplit_once(['.', '/'])?;
    let m = pool
        .get_service_by_name(svc)?
        .methods()
        .find(|m| m.name() == name)?;
    Some(format!("{} is a method:\n{}\n", m.full_name(), method(&m)))
}

fn service(s: &ServiceDescriptor) -> String {
    let mut t = format!("service {} {{\n", s.name());
    for m in s.methods() {
        t += &format!("  {}\n", method(&m));
    }
    t + "}\n"
}

fn method(m: &MethodDescriptor) -> String {
    let stream = |yes: bool| if yes { "stream " } else { "" };
    format!(
        "rpc {}({}.{}) returns ({}.{});",
        m.name(),
        stream(m.is_client_streaming()),
        m.input().full_name(),
        stream(m.is_server_streaming()),
        m.output().full_name()
    )
}

fn message(m: &MessageDescriptor, indent: &str) -> String {
    let inner = format!("{indent}  ");
    let mut t = format!("{indent}message {} {{\n", m.name());
    let mut oneofs_done = Vec::new();
    for f in m.fields() {
        match f.containing_oneof() {
            Some(o) if !is_synthetic(&f) => {
                if oneofs_done.contains(&o.name().to_string()) {
                    continue;
                }
                oneofs_done.push(o.name().to_string());
                t += &format!("{inner}oneof {} {{\n", o.name());
                for of in o.fields() {
                    t += &format!("{inner}  {}\n", field(&of, false));
                }
                t += &format!("{inner}}}\n");
            }
            _ => t += &format!("{inner}{}\n", field(&f, true)),
        }
    }
    for nested in m.child_messages().filter(|c| !c.is_map_entry()) {
        t += &message(&nested, &inner);
    }
    for e in m.child_enums() {
        t += &enumeration(&e, &inner);
    }
    t + &format!("{indent}}}\n")
}

fn is_synthetic(f: &FieldDescriptor) -> bool {
    f.field_descriptor_proto().proto3_optional()
}

fn field(f: &FieldDescriptor, label: bool) -> String {
    let ty = if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            unreachable!("a map field's kind is its entry message")
        };
        format!(
            "map<{}, {}>",
            type_name(&entry.map_entry_key_field().kind()),
            type_name(&entry.map_entry_value_field().kind())
        )
    } else {
        type_name(&f.kind())
    };
    let proto2 = f.parent_file().syntax() == Syntax::Proto2;
    let label = match f.cardinality() {
        _ if !label || f.is_map() => "",
        Cardinality::Repeated => "repeated ",
        Cardinality::Required => "required ",
        Cardinality::Optional if proto2 || is_synthetic(f) => "optional ",
        Cardinality::Optional => "",
    };
    format!("{label}{ty} {} = {};", f.name(), f.number())
}

fn type_name(k: &Kind) -> String {
    match k {
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn enumeration(e: &EnumDescriptor, indent: &str) -> String {
    let mut t = format!("{indent}enum {} {{\n", e.name());
    for v in e.values() {
        t += &format!("{indent}  {} = {};\n", v.name(), v.number());
    }
    t + &format!("{indent}}}\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn scalar_kinds_are_named_as_in_proto_files() {
        use prost_reflect::Kind;
        for (k, name) in [
            (Kind::Int64, "int64"),
            (Kind::Sfixed32, "sfixed32"),
            (Kind::Bytes, "bytes"),
            (Kind::Bool, "bool"),
        ] {
            assert_eq!(super::type_name(&k), name);
        }
    }
}
