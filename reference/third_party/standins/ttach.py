"""ttach stand-in (Debian has no python3-ttach): pytorch-grad-cam's BaseCAM builds a default test-time
augmentation list in its constructor (tta.Compose([tta.HorizontalFlip(), tta.Multiply(factors=[...])])) and uses
it only when called with aug_smooth=True, which reference/third_party/oracles.py never does. These classes only
record their arguments; applying them raises. Used only when the real ttach is not installed."""


class _Unused:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __iter__(self):
        raise NotImplementedError('ttach stand-in: test-time augmentation (aug_smooth=True) is not available')


class Compose(_Unused):
    pass


class HorizontalFlip(_Unused):
    pass


class Multiply(_Unused):
    pass
