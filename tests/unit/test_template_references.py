"""references(): what a template value points at, for the local deployer's order and the security checks."""

from fmops_local.intrinsics import references


def test_refs_getatts_and_sub_placeholders_are_references() -> None:
    value = {
        "A": {"Ref": "Bucket"},
        "B": {"Fn::GetAtt": ["Table", "Arn"]},
        "C": {"Fn::GetAtt": "Key.Arn"},
        "D": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${Queue.Arn}"},
    }

    assert references(value) == {"Bucket", "Table", "Key", "AWS::Partition", "Queue"}


def test_sub_variables_and_escaped_placeholders_are_not_references() -> None:
    value = {"Fn::Sub": ["${Name}-${!Literal}", {"Name": {"Ref": "Stage"}}]}

    assert references(value) == {"Stage"}
