"""Quality evaluation: triplet datasets and the frame-drop protocol on videos (`vidinterp eval`).

Modules: `layouts` (find datasets on disk), `metrics` (PSNR/SSIM/MAE/temporal error),
`framedrop` (the video protocol), `evaluate` (the driver), `report` (table and JSON), `visualize`
(side-by-side pictures), `perceptual` (LPIPS when available offline), `minterpolate` (ffmpeg baseline).
"""
