//! dragnet-cloudtrail: raw AWS CloudTrail records as lazy ECS events, reproducing Elastic's AWS
//! integration ingest pipeline (aws package 8.9.0) field for field.

pub mod java_map;
pub mod node;
