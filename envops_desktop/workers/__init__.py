"""QObjects that run one service call on a QThread and report through signals."""
