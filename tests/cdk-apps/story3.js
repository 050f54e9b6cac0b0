// Story 3 as a CDK app the tests synthesize with aws-cdk-lib: a shop's DNS-validated certificate
// and a record, written into the hosted zone the app is given by id. In the story the id is that
// of a second zone of the same name, which the domain is not delegated to (`broken`); `fixed` is
// given the zone the registrar created. The app says nothing about delegation: Preflight finds the
// zone in the cloud assembly and asks the DNS.
//
// Usage: node story3.js OUTDIR broken|fixed ZONE_ID DOMAIN
'use strict';
const cdk = require('aws-cdk-lib');
const acm = require('aws-cdk-lib/aws-certificatemanager');
const route53 = require('aws-cdk-lib/aws-route53');

const [outdir, variant, zoneId, domain] = process.argv.slice(2);
if (!outdir || !['broken', 'fixed'].includes(variant) || !zoneId || !domain) {
  console.error('usage: node story3.js OUTDIR broken|fixed ZONE_ID DOMAIN');
  process.exit(2);
}
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, 'Shop', { env: { account: '123456789012', region: 'us-east-1' } });
const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: zoneId, zoneName: domain });
new acm.Certificate(stack, 'Certificate', { domainName: domain, validation: acm.CertificateValidation.fromDns(zone) });
new route53.TxtRecord(stack, 'Verification', { zone, recordName: 'verify', values: ['preflight'] });
app.synth();
console.log(outdir);
