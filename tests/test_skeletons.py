"""Skeleton definitions: published orders, derived left/right data, and the conversion tables."""

from __future__ import annotations

import numpy as np
import pytest
import smplx.joint_names
import torch

from datasets.skeletons import (
    APPROXIMATE_CORRESPONDENCES,
    JOINT_CORRESPONDENCES,
    JOINT_GROUP_WEIGHTS,
    MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS,
    SKELETONS,
    H36MJoint,
    Skeleton,
    convert_joints,
    get_skeleton,
    joint_group_weights,
    joint_mapping,
)

ALL_NAMES = sorted(SKELETONS)


def test_registry_holds_the_promised_skeletons_with_their_joint_counts():
    expected = {
        "h36m17": 17,
        "h36m32": 32,
        "mpi_inf_3dhp28": 28,
        "mpi_inf_3dhp17": 17,
        "humaneva15": 15,
        "smplh52": 52,
        "smplx55": 55,
        "coco17": 17,
        "halpe26": 26,
        "openpose25": 25,
    }
    assert {name: SKELETONS[name].num_joints for name in SKELETONS} == expected


def test_coco17_sides_match_videopose3d_coco_metadata():
    """VideoPose3D ``data/data_utils.py`` coco_metadata: keypoints_symmetry [[1,3,5,7,9,11,13,15],[2,4,...,16]]."""
    skeleton = get_skeleton("coco17")
    assert skeleton.left_indices == (1, 3, 5, 7, 9, 11, 13, 15)
    assert skeleton.right_indices == (2, 4, 6, 8, 10, 12, 14, 16)


def test_h36m17_matches_videopose3d():
    """docs/formats.md 1.3: parents, and keypoints_symmetry [[4,5,6,11,12,13],[1,2,3,14,15,16]]."""
    skeleton = get_skeleton("h36m17")
    assert skeleton.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert skeleton.left_indices == (4, 5, 6, 11, 12, 13)
    assert skeleton.right_indices == (1, 2, 3, 14, 15, 16)
    assert skeleton.flip_permutation.tolist() == [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    assert [j.name.lower() for j in H36MJoint] == list(skeleton.joint_names)
    assert skeleton.index("left_wrist") == H36MJoint.LEFT_WRIST == 13


def test_h36m32_matches_videopose3d():
    """docs/formats.md 1.2: joints_left [6..10, 16..23], joints_right [1..5, 24..31]."""
    skeleton = get_skeleton("h36m32")
    assert skeleton.parents == (
        -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26,
        27, 28, 27, 30,
    )  # fmt: skip
    assert skeleton.left_indices == (6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23)
    assert sorted(skeleton.right_indices) == [1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31]


def test_mpi_inf_3dhp_and_humaneva_symmetry_match_the_toolkits():
    """docs/formats.md 2.2 (P-STMO symmetry) and 3.2 (VideoPose3D humaneva15 joints_left/right)."""
    mpi17 = get_skeleton("mpi_inf_3dhp17")
    assert mpi17.root == 14
    assert (mpi17.left_indices, mpi17.right_indices) == ((5, 6, 7, 11, 12, 13), (2, 3, 4, 8, 9, 10))
    humaneva = get_skeleton("humaneva15")
    assert humaneva.parents == (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)
    assert (humaneva.left_indices, humaneva.right_indices) == ((2, 3, 4, 8, 9, 10), (5, 6, 7, 11, 12, 13))
    mpi28 = get_skeleton("mpi_inf_3dhp28")
    assert mpi28.joint_names[mpi28.root] == "pelvis"
    assert mpi28.root == 4


def test_body_model_skeletons_match_smplx_names_and_published_parents():
    """docs/formats.md 5.2 lists the SMPL+H parents; names follow smplx (eyes drop its ``_smplhf`` suffix)."""
    smplh = get_skeleton("smplh52")
    assert list(smplh.joint_names) == smplx.joint_names.SMPLH_JOINT_NAMES[:52]
    assert smplh.parents == (
        -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 22, 23, 20, 25, 26, 20,
        28, 29, 20, 31, 32, 20, 34, 35, 21, 37, 38, 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50,
    )  # fmt: skip
    smplx55 = get_skeleton("smplx55")
    expected_names = [n.removesuffix("_smplhf") for n in smplx.joint_names.JOINT_NAMES[:55]]
    assert list(smplx55.joint_names) == expected_names
    # Body identical to SMPL+H; jaw and eyes hang off the head; each hand is SMPL+H's shifted by 3.
    assert smplx55.parents[:22] == smplh.parents[:22]
    assert smplx55.parents[22:25] == (15, 15, 15)
    shifted = tuple(p if p in (20, 21) else p + 3 for p in smplh.parents[22:])
    assert smplx55.parents[25:] == shifted


@pytest.mark.parametrize("name", ALL_NAMES)
def test_flip_is_an_involution_that_swaps_sides_and_respects_the_tree(name):
    skeleton = get_skeleton(name)
    flip = skeleton.flip_permutation
    assert flip[flip].tolist() == list(range(skeleton.num_joints))
    for left, right in zip(skeleton.left_indices, skeleton.right_indices, strict=True):
        left_name, right_name = skeleton.joint_names[left], skeleton.joint_names[right]
        assert left_name.removeprefix("left_") == right_name.removeprefix("right_")
        assert flip[left] == right
    sided = set(skeleton.left_indices) | set(skeleton.right_indices)
    assert all(flip[j] == j for j in range(skeleton.num_joints) if j not in sided)
    for joint, parent in enumerate(skeleton.parents):
        expected = -1 if parent == -1 else flip[parent]
        assert skeleton.parents[flip[joint]] == expected


@pytest.mark.parametrize("name", ALL_NAMES)
def test_bones_connect_every_non_root_joint_to_its_parent(name):
    skeleton = get_skeleton(name)
    assert len(skeleton.bones) == skeleton.num_joints - 1
    assert all(skeleton.parents[child] == parent for parent, child in skeleton.bones)
    assert skeleton.root not in {child for _, child in skeleton.bones}


def test_joint_groups_give_mixste_weights():
    """MixSTE Sec. 4.1 weights by group; h36m17 by hand: pelvis 1, hips 1, knees 2.5, ankles 4, spine 1,
    thorax 1, neck_nose 1.5, head_top 1.5, shoulders 1, elbows 2.5, wrists 4."""
    weights = joint_group_weights(get_skeleton("h36m17"))
    assert weights.tolist() == [1, 1, 2.5, 4, 1, 2.5, 4, 1, 1, 1.5, 1.5, 1, 2.5, 4, 1, 2.5, 4]
    assert weights.dtype == np.float32
    assert set(JOINT_GROUP_WEIGHTS.values()) == {1.0, 1.5, 2.5, 4.0}
    assert len(MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS) == 17
    with pytest.raises(ValueError, match="h36m32 defines no joint_groups"):
        joint_group_weights(get_skeleton("h36m32"))


@pytest.mark.parametrize(("source", "target"), [("mpi_inf_3dhp17", "h36m17"), ("h36m17", "humaneva15")])
def test_joint_groups_agree_across_corresponding_joints(source, target):
    source_groups = np.array(get_skeleton(source).joint_groups)
    assert source_groups[joint_mapping(source, target)].tolist() == list(get_skeleton(target).joint_groups)


def test_published_index_mappings():
    """docs/formats.md 1.3 (h36m32 -> 17), 2.2 (3DHP 28 -> 17 and 3DHP 17 -> H36M 17)."""
    assert joint_mapping("h36m32", "h36m17").tolist() == [
        0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27,
    ]  # fmt: skip
    assert joint_mapping("mpi_inf_3dhp28", "mpi_inf_3dhp17").tolist() == [
        7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6,
    ]  # fmt: skip
    assert joint_mapping("mpi_inf_3dhp17", "h36m17").tolist() == [
        14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4,
    ]  # fmt: skip


def test_round_trips_and_compositions_of_mappings():
    there, back = joint_mapping("h36m17", "mpi_inf_3dhp17"), joint_mapping("mpi_inf_3dhp17", "h36m17")
    assert there[back].tolist() == list(range(17))
    assert back[there].tolist() == list(range(17))
    composed = joint_mapping("mpi_inf_3dhp28", "mpi_inf_3dhp17")[joint_mapping("mpi_inf_3dhp17", "h36m17")]
    assert joint_mapping("mpi_inf_3dhp28", "h36m17").tolist() == composed.tolist()
    assert joint_mapping("smplx55", "h36m17").tolist() == joint_mapping("smplh52", "h36m17").tolist()
    assert joint_mapping("h36m32", "h36m32").tolist() == list(range(32))


@pytest.mark.parametrize(("source", "target"), sorted(JOINT_CORRESPONDENCES))
def test_every_correspondence_is_complete_and_mirror_consistent(source, target):
    """A mapping must commute with flipping: flip in the source then map == map then flip in the target."""
    mapping = joint_mapping(source, target)
    assert mapping.shape == (get_skeleton(target).num_joints,)
    flipped_first = get_skeleton(source).flip_permutation[mapping]
    mapped_first = mapping[get_skeleton(target).flip_permutation]
    assert flipped_first.tolist() == mapped_first.tolist()
    if (source, target) not in APPROXIMATE_CORRESPONDENCES:
        assert len(set(mapping.tolist())) == len(mapping)


def test_convert_joints_numpy_and_torch():
    poses = np.arange(2 * 32 * 3, dtype=np.float32).reshape(2, 32, 3)
    converted = convert_joints(poses, "h36m32", "h36m17")
    np.testing.assert_array_equal(converted[:, 7], poses[:, 12])  # spine is 32-index 12
    converted_torch = convert_joints(torch.from_numpy(poses), "h36m32", "h36m17")
    assert isinstance(converted_torch, torch.Tensor)
    np.testing.assert_array_equal(converted_torch.numpy(), converted)
    with pytest.raises(ValueError, match=r"\(\.\.\., 32, C\) for h36m32"):
        convert_joints(poses[:, :17], "h36m32", "h36m17")


def test_unknown_names_raise_key_errors_that_list_the_options():
    with pytest.raises(KeyError, match="known: h36m17, h36m32"):
        get_skeleton("mpii16")
    with pytest.raises(KeyError, match="no joint correspondence humaneva15->h36m17"):
        joint_mapping("humaneva15", "h36m17")
    with pytest.raises(KeyError, match="h36m17 has no joint 'nose'"):
        get_skeleton("h36m17").index("nose")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"joint_names": ("a", "b"), "parents": (-1,)}, "one parent per joint"),
        ({"joint_names": ("a", "a"), "parents": (-1, 0)}, r"unique, duplicated \['a'\]"),
        ({"joint_names": ("a", "Bad"), "parents": (-1, 0)}, "snake_case"),
        ({"joint_names": ("a", "b"), "parents": (-1, -1)}, r"one root .* got \[0, 1\]"),
        ({"joint_names": ("a", "b", "c"), "parents": (-1, 2, 1)}, "cycle"),
        ({"joint_names": ("a", "b"), "parents": (-1, 1)}, "must be another joint, got 1"),
        ({"joint_names": ("a", "left_b"), "parents": (-1, 0)}, "no mirror joint 'right_b'"),
        ({"joint_names": ("a", "b"), "parents": (-1, 0), "joint_groups": ("torso", "arm")}, r"\['arm'\]"),
    ],
)
def test_invalid_skeletons_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Skeleton(name="bad", **kwargs)


def test_skeletons_are_hashable_values():
    skeleton = get_skeleton("h36m17")
    copy = Skeleton(skeleton.name, skeleton.joint_names, skeleton.parents, skeleton.joint_groups)
    assert copy == skeleton
    assert hash(copy) == hash(skeleton)
