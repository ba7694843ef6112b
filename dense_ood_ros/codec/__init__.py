"""sensor_msgs images in and out: encodings and compressed formats -> RGB arrays, and results ->
Image messages (cv_bridge where it imports, numpy + OpenCV otherwise)."""
