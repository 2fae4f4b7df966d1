//! Helm's own functions beside sprig's: the YAML, JSON and TOML converters. (`include`,
//! `tpl`, `required`, `fail` and `lookup` live with the renderer.)

use slipway_template::{Arity, Funcs, Type, Value};

/// Adds `toYaml`, `mustToYaml`, `toYamlPretty`, `fromYaml`, `fromYamlArray`, `toJson`,
/// `mustToJson`, `fromJson`, `fromJsonArray`, `toToml`, `mustToToml`, `fromToml`, and
/// refuses the duration functions by name.
pub fn register(f: &mut Funcs) {
    f.add_plain("toYaml", Arity::Exact(1), |a| {
        Ok(Value::from(crate::yaml::to_yaml(&a[0]).unwrap_or_default()))
    });
    f.add_plain("mustToYaml", Arity::Exact(1), |a| {
        crate::yaml::to_yaml(&a[0])
            .map(Value::from)
            .map_err(|e| e.to_string())
    });
    f.add_plain("toYamlPretty", Arity::Exact(1), |a| {
        Ok(Value::from(
            crate::yaml::to_yaml_pretty(&a[0]).unwrap_or_default(),
        ))
    });
    f.add_plain("fromYaml", Arity::Exact(1), |a| {
        Ok(crate::yaml::from_yaml(a[0].as_str().unwrap_or("")))
    });
    f.typed("fromYaml", &[Type::String], None);
    f.add_plain("fromYamlArray", Arity::Exact(1), |a| {
        Ok(crate::yaml::from_yaml_array(a[0].as_str().unwrap_or("")))
    });
    f.typed("fromYamlArray", &[Type::String], None);
    f.add_plain("toJson", Arity::Exact(1), |a| {
        Ok(Value::from(crate::json::to_json(&a[0]).unwrap_or_default()))
    });
    f.add_plain("mustToJson", Arity::Exact(1), |a| {
        crate::json::to_json(&a[0])
            .map(Value::from)
            .map_err(|e| e.to_string())
    });
    f.add_plain("fromJson", Arity::Exact(1), |a| {
        Ok(crate::json::from_json(a[0].as_str().unwrap_or("")))
    });
    f.typed("fromJson", &[Type::String], None);
    f.add_plain("fromJsonArray", Arity::Exact(1), |a| {
        Ok(crate::json::from_json_array(a[0].as_str().unwrap_or("")))
    });
    f.typed("fromJsonArray", &[Type::String], None);
    f.add_plain("toToml", Arity::Exact(1), |a| {
        Ok(Value::from(
            crate::toml::to_toml(&a[0]).unwrap_or_else(|e| e.to_string()),
        ))
    });
    f.add_plain("mustToToml", Arity::Exact(1), |a| {
        crate::toml::to_toml(&a[0])
            .map(Value::from)
            .map_err(|e| e.to_string())
    });
    f.add_plain("fromToml", Arity::Exact(1), |a| {
        Ok(crate::toml::from_toml(a[0].as_str().unwrap_or("")))
    });
    f.typed("fromToml", &[Type::String], None);
    for name in [
        "mustToDuration",
        "durationSeconds",
        "durationMilliseconds",
        "durationMicroseconds",
        "durationNanoseconds",
        "durationMinutes",
        "durationHours",
        "durationDays",
        "durationWeeks",
        "durationRoundTo",
        "durationTruncateTo",
    ] {
        f.refuse(name, &format!("Helm's {name}"));
    }
}
