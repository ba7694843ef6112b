"""Frame I/O in one place: camera messages (every sensor_msgs/Image encoding, JPEG and PNG
CompressedImage) -> RGB arrays by `decode_frame`, results -> sensor_msgs/Image by `build_image`,
and the `resize_to` between camera and model sizes."""

from dense_ood_ros.codec.image_codec import ImageDecodeError, ImageFileError
from dense_ood_ros.codec.messages import ImageBuildError, build_image, decode_frame
from dense_ood_ros.codec.resize import resize_to

__all__ = [
    "ImageBuildError",
    "ImageDecodeError",
    "ImageFileError",
    "build_image",
    "decode_frame",
    "resize_to",
]
