import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { flattenReference } from '../../src/lib/compliance';

/** The text cdk-nag puts in a finding id for a resolved value; the findings acknowledged by name depend on it. */
describe('flattenReference renders CloudFormation values as cdk-nag words its findings', () => {
  test('strings, with ${X} as <X>', () => {
    assert.equal(flattenReference('arn:aws:s3:::bucket/*'), 'arn:aws:s3:::bucket/*');
    assert.equal(flattenReference('arn:${AWS::Partition}:logs'), 'arn:<AWS::Partition>:logs');
  });
  test('Ref, Fn::GetAtt, Fn::ImportValue, Fn::Sub and Fn::Join, nested', () => {
    assert.equal(flattenReference({ Ref: 'AWS::Region' }), '<AWS::Region>');
    assert.equal(flattenReference({ 'Fn::GetAtt': ['Bucket1A2B', 'Arn'] }), '<Bucket1A2B.Arn>');
    assert.equal(flattenReference({ 'Fn::ImportValue': 'Stack:ExportsOutputArn' }), 'Stack:ExportsOutputArn');
    assert.equal(flattenReference({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::x' }), 'arn:<AWS::Partition>:s3:::x');
    assert.equal(
      flattenReference({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket1A2B', 'Arn'] }, '/*']] }),
      '<Bucket1A2B.Arn>/*',
    );
    assert.equal(
      flattenReference({ 'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, { 'Fn::ImportValue': 'E' }]] }),
      'arn:<AWS::Partition>:E',
    );
  });
  test('anything else as JSON, undefined as nothing', () => {
    assert.equal(flattenReference(undefined), '');
    assert.equal(flattenReference({ 'Fn::Select': [0, ['a']] }), '{"Fn::Select":[0,["a"]]}');
  });
});
