"""The example voice pipeline in Python: the same pipeline as voice.yaml.

    rm-build voice.py
"""
from remotemedia import HFPipelineNode, Node, Pipeline

pipeline = Pipeline(
    "voice", version="1.0.0",
    metadata={"description": "voice assistant - VAD, speech to text on a CUDA GPU, "
                             "TTS from a package"})

vad = pipeline.add(Node(
    "vad", "VAD",
    capabilities={"cpu": {"cores": 1}},
    params={"threshold": 0.5, "min_speech_ms": 250,
            "model_path": "models/tiny-vad.safetensors"}))

stt = pipeline.add(Node(
    "stt", "SpeechToText",
    capabilities={"gpu": {"type": "cuda", "required": True,
                          "min_memory_gb": {"min": 8, "required": False,
                                            "preferred": True}}},
    params={"model": "openai/whisper-small", "language": "en"},
    fallback=[{"capabilities": {"cpu": {"cores": 4}, "memory_gb": 8},
               "params": {"model": "openai/whisper-tiny"}}],
    estimated_seconds=2.5))

tts = pipeline.add(HFPipelineNode(
    "tts", model="facebook/mms-tts-eng", task="text-to-speech",
    remote_ref="oci://registry.example/voice/tts:1.0"))

pipeline.connect(vad, stt)
pipeline.connect(stt, tts)

if __name__ == "__main__":
    print(pipeline.serialize())
