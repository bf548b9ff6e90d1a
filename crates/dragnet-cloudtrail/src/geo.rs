//! `source.geo.*` and `source.as.*` from MaxMind-format databases (GeoLite2/GeoIP2 City and
//! ASN), as the pipeline's two `geoip` processors write them (English names; region = the most
//! specific subdivision, its ISO code prefixed with the country's).

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, geoip2};
use serde_json::{Value, json};

use crate::MapperError;

pub struct Geo {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, MapperError> {
    Reader::open_readfile(path).map_err(|e| MapperError::Database {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl Geo {
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<Option<Self>, MapperError> {
        if city.is_none() && asn.is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            city: city.map(open).transpose()?,
            asn: asn.map(open).transpose()?,
        }))
    }

    /// Appends the geo fields found for `ip`. A lookup error is treated as "not found", as the
    /// processors do with `ignore_missing`.
    pub fn lookup(&self, ip: IpAddr, out: &mut Vec<(&'static str, Value)>) {
        if let Some(reader) = &self.city
            && let Ok(Some(city)) = reader.lookup::<geoip2::City>(ip)
        {
            let en = |names: Option<&std::collections::BTreeMap<&str, &str>>| {
                names
                    .and_then(|n| n.get("en"))
                    .map(|s| Value::String((*s).to_string()))
            };
            let country_iso = city.country.as_ref().and_then(|c| c.iso_code);
            let mut put = |name: &'static str, v: Option<Value>| {
                if let Some(v) = v {
                    out.push((name, v));
                }
            };
            put(
                "source.geo.city_name",
                en(city.city.as_ref().and_then(|c| c.names.as_ref())),
            );
            put(
                "source.geo.continent_name",
                en(city.continent.as_ref().and_then(|c| c.names.as_ref())),
            );
            put("source.geo.country_iso_code", country_iso.map(Value::from));
            put(
                "source.geo.country_name",
                en(city.country.as_ref().and_then(|c| c.names.as_ref())),
            );
            if let Some(loc) = &city.location
                && let (Some(lat), Some(lon)) = (loc.latitude, loc.longitude)
            {
                put("source.geo.location", Some(json!({"lat": lat, "lon": lon})));
            }
            if let Some(sub) = city.subdivisions.as_ref().and_then(|s| s.last()) {
                if let (Some(country), Some(code)) = (country_iso, sub.iso_code) {
                    put(
                        "source.geo.region_iso_code",
                        Some(Value::String(format!("{country}-{code}"))),
                    );
                }
                put("source.geo.region_name", en(sub.names.as_ref()));
            }
        }
        if let Some(reader) = &self.asn
            && let Ok(Some(asn)) = reader.lookup::<geoip2::Asn>(ip)
        {
            if let Some(n) = asn.autonomous_system_number {
                out.push(("source.as.number", Value::from(n)));
            }
            if let Some(org) = asn.autonomous_system_organization {
                out.push((
                    "source.as.organization.name",
                    Value::String(org.to_string()),
                ));
            }
        }
    }
}
