// The KMS actions Preflight knows: the same table as the Rust core (crates/core/src/kms.rs,
// `ACTIONS`), kept equal by the core's test `the_construct_shares_the_kms_action_table`.

/** Every KMS API action, canonical case, sorted. */
export const KMS_ACTIONS: readonly string[] = [
  'kms:CancelKeyDeletion',
  'kms:ConnectCustomKeyStore',
  'kms:CreateAlias',
  'kms:CreateCustomKeyStore',
  'kms:CreateGrant',
  'kms:CreateKey',
  'kms:Decrypt',
  'kms:DeleteAlias',
  'kms:DeleteCustomKeyStore',
  'kms:DeleteImportedKeyMaterial',
  'kms:DeriveSharedSecret',
  'kms:DescribeCustomKeyStores',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:DisconnectCustomKeyStore',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateMac',
  'kms:GenerateRandom',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:GetParametersForImport',
  'kms:GetPublicKey',
  'kms:ImportKeyMaterial',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListKeys',
  'kms:ListResourceTags',
  'kms:ListRetirableGrants',
  'kms:PutKeyPolicy',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:ReplicateKey',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:Sign',
  'kms:SynchronizeMultiRegionKey',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateCustomKeyStore',
  'kms:UpdateKeyDescription',
  'kms:UpdatePrimaryRegion',
  'kms:Verify',
  'kms:VerifyMac',
];

/**
 * The KMS actions an IAM action pattern matches (`kms:ReEncrypt*`, `KMS:decrypt`, `kms:*`): `*` and `?`
 * as in a policy's Action element, without regard to case. Empty when it matches none.
 */
export function expandKmsActions(pattern: string): string[] {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${escaped}$`, 'i');
  return KMS_ACTIONS.filter((a) => re.test(a));
}
