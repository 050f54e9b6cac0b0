//! Inference time of the stack model: parse, resolve and infer from a template of 1,000 resources
//! (roles with attached policies, keys with key policies, databases with ssm-secure passwords,
//! AwsCustomResource reads), the shape of a large CDK stack. Run: `cargo bench -p preflight-core
//! --bench inference`. Target (issue 11): under 50 ms per 1,000 resources on one core.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use preflight_core::stack::{self, StackEnv, Template};
use serde_json::{Map, Value, json};

/// A template of `n` resources in groups of five.
fn template(n: usize) -> Value {
    let mut resources = Map::new();
    for i in 0..n / 5 {
        let role = format!("Role{i}");
        resources.insert(role.clone(), json!({"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}]}}));
        resources.insert(format!("Policy{i}"), json!({"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": role}], "PolicyName": format!("p{i}"),
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter",
                "Resource": {"Fn::Sub": format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/app/{i}")}}]}}}));
        resources.insert(
            format!("Fn{i}"),
            json!({"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": [role, "Arn"]}}}),
        );
        resources.insert(format!("Read{i}"), json!({"Type": "Custom::AWS", "Properties": {
            "ServiceToken": {"Fn::GetAtt": [format!("Fn{i}"), "Arn"]},
            "Create": format!("{{\"service\":\"SSM\",\"action\":\"getParameter\",\"parameters\":{{\"Name\":\"/app/{i}\",\"WithDecryption\":true}}}}")}}));
        resources.insert(format!("Key{i}"), json!({"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}, "Action": "kms:*", "Resource": "*"}]}}}));
    }
    json!({"Resources": resources})
}

fn bench(c: &mut Criterion) {
    let env = StackEnv {
        account: Some("111111111111".into()),
        region: Some("us-east-1".into()),
        partition: Some("aws".into()),
        ..StackEnv::default()
    };
    let text = template(1000).to_string();
    c.bench_function("infer: parse + resolve + rules, 1000 resources", |b| {
        b.iter(|| {
            let t = Template::parse(black_box(&text)).unwrap();
            black_box(stack::infer(&t, &env, None))
        });
    });
    let parsed = Template::parse(&text).unwrap();
    assert_eq!(parsed.resources.len(), 1000);
    let found = stack::infer(&parsed, &env, None);
    assert_eq!((found.spec.parameters.len(), found.planned.len()), (200, 200));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
