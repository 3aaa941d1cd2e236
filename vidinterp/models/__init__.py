"""The learned interpolation model: keyframe autoencoder + coarse-to-fine motion + synthesis at any t.

Build with `VFIModel.from_config(ModelConfig())`; save/load with `save_model` / `load_model` (safetensors + JSON).
"""

from vidinterp.models.autoencoder import FeatureEncoder, KeyframeAutoencoder, KeyframeDecoder
from vidinterp.models.config import ModelConfig, tiny_config
from vidinterp.models.io import DEFAULT_WEIGHTS, load_model, save_model
from vidinterp.models.motion import FlowDecoder, PyramidFlowEstimator
from vidinterp.models.synthesis import (
    ContextRefiner,
    FrameSynthesizer,
    IntermediateFlowRefiner,
    SynthesisResult,
    intermediate_flows,
)
from vidinterp.models.vfi import InterpolationModule, InterpolationOutput, MotionState, VFIModel

__all__ = [
    "ModelConfig", "tiny_config", "VFIModel", "InterpolationOutput", "MotionState",
    "KeyframeAutoencoder", "FeatureEncoder", "KeyframeDecoder",
    "InterpolationModule", "PyramidFlowEstimator", "FlowDecoder",
    "FrameSynthesizer", "IntermediateFlowRefiner", "ContextRefiner", "SynthesisResult", "intermediate_flows",
    "save_model", "load_model", "DEFAULT_WEIGHTS",
]
