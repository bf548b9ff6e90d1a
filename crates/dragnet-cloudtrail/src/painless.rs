//! The messages Painless and the JVM give when a script meets a value of a type it did not
//! expect, naming the Java classes Elasticsearch's `json` processor makes of JSON values.

use crate::node::Node;

/// The Java class of a value as the `json` processor builds it (Jackson through
/// `XContentParser.map()`: `Integer`/`Long`/`BigInteger`/`Double`, `HashMap`, `ArrayList`).
/// In an `if` condition maps and lists are seen through `ConditionalProcessor`'s read-only
/// wrappers (`wrapUnmodifiable`), whose classes then name the receiver.
pub fn java_class(node: &Node<'_>, in_condition: bool) -> &'static str {
    match node {
        Node::Str(_) => "java.lang.String",
        Node::Bool(_) => "java.lang.Boolean",
        Node::Int(i) if i32::try_from(*i).is_ok() => "java.lang.Integer",
        Node::Int(_) => "java.lang.Long",
        Node::UInt(_) => "java.math.BigInteger",
        Node::Float(_) => "java.lang.Double",
        Node::Array(_) if in_condition => {
            "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestList"
        }
        Node::Array(_) => "java.util.ArrayList",
        Node::Object(_) if in_condition => {
            "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestData"
        }
        Node::Object(_) => "java.util.HashMap",
        Node::Null => "null",
    }
}

/// Painless `receiver.name` on a value that is not a map (`Def.lookupGetter`): a list takes
/// only an index, anything else has no such getter.
pub fn getter_error(receiver: &Node<'_>, name: &str) -> String {
    match receiver {
        Node::Array(_) => format!("Illegal list shortcut value [{name}]."),
        other => format!(
            "dynamic getter [{}, {name}] not found",
            java_class(other, false)
        ),
    }
}

/// Painless `receiver.name(…)` on a class without that method (`Def.lookupMethod`).
pub fn method_error(receiver: &Node<'_>, name: &str, arity: usize, in_condition: bool) -> String {
    format!(
        "dynamic method [{}, {name}/{arity}] not found",
        java_class(receiver, in_condition)
    )
}

/// A Painless implicit cast of a non-string value to `String` (a JVM `checkcast`: the
/// JDK's `ClassCastException` text; every class the `json` processor makes is in java.base).
pub fn string_cast_error(value: &Node<'_>) -> String {
    let class = java_class(value, false);
    format!(
        "class {class} cannot be cast to class java.lang.String ({class} and java.lang.String are in module java.base of loader 'bootstrap')"
    )
}
