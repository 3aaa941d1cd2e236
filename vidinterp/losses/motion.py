"""Motion losses: the warping term and flow distillation, direct training signals for the motion estimator."""

from __future__ import annotations

import torch

from vidinterp import ops
from vidinterp.losses.image import charbonnier_loss


def warping_loss(output, frame0: torch.Tensor, frame1: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Charbonnier error of every warp the model makes (scalar), as in Super SloMo's warping loss.

    Four terms, equally weighted: warped0 and warped1 (keyframes warped to time t) against the target, and each
    keyframe warped onto the other by the keyframe flows (frame1 by flow_01 against frame0, and vice versa).
    The frame loss alone reaches the flows only through the blend mask, which can hide a wrong flow by leaning
    on the other keyframe; these terms cannot be hidden, so motion is learned in far fewer steps. Occluded
    pixels can never match: Charbonnier keeps their pull moderate, and the weight of this term stays small.
    `output` is an `InterpolationOutput`; images are B×3×H×W in [0, 1].
    """
    onto0 = ops.backward_warp(frame1, output.flow_01.to(frame1.dtype))
    onto1 = ops.backward_warp(frame0, output.flow_10.to(frame0.dtype))
    terms = (
        charbonnier_loss(output.warped0.float(), target),
        charbonnier_loss(output.warped1.float(), target),
        charbonnier_loss(onto0.float(), frame0),
        charbonnier_loss(onto1.float(), frame1),
    )
    return sum(terms) / len(terms)


#: the teacher must beat the model's own warp by this much (mean |error| on [0, 1] images) to be followed
DISTILL_MARGIN = 0.01


def distillation_loss(
    output, teacher: torch.Tensor, frame0: torch.Tensor, frame1: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Flow distillation from a teacher, where the teacher warps better (RIFE's rule); scalar, in pixels.

    `teacher` is B×8×H×W: flow_t0, flow_t1, flow_01, flow_10 (see `vidinterp.train.teacher`), backward flows in
    full-resolution pixels like the model's. For each of the four flows, a pixel is supervised only where warping
    with the teacher's flow matches the destination (the target for flow_t*, the other keyframe for flow_01/10)
    better than the model's flow does by `DISTILL_MARGIN`. There the loss is |Δx| + |Δy| against the teacher;
    elsewhere nothing, so the photometric terms can take the model past its teacher. Mean over pixels and flows.
    """
    teacher = teacher.to(output.flow_t0.dtype)
    flows = (
        (output.flow_t0, teacher[:, 0:2], frame0, target, output.warped0),
        (output.flow_t1, teacher[:, 2:4], frame1, target, output.warped1),
        (output.flow_01, teacher[:, 4:6], frame1, frame0, None),
        (output.flow_10, teacher[:, 6:8], frame0, frame1, None),
    )
    terms = []
    for student, taught, source, destination, student_warp in flows:
        with torch.no_grad():
            if student_warp is None:
                student_warp = ops.backward_warp(source, student)
            student_error = (student_warp.float() - destination).abs().mean(1, keepdim=True)
            teacher_error = (ops.backward_warp(source, taught).float() - destination).abs().mean(1, keepdim=True)
            trusted = (teacher_error + DISTILL_MARGIN < student_error).float()
        terms.append(((student.float() - taught.float()).abs().sum(1, keepdim=True) * trusted).mean())
    return sum(terms) / len(terms)
