// Image crop/resize on read (Go's weed/images semantics) and EXIF orientation fixing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { atoi, fixJpegOrientation, imageOps, transformImage } from '../../../../plugins/read-write/http/image-transform.js';

const q = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, [v]]));

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 10, g: 20, b: 200, alpha: 1 } } }).png().toBuffer();
}

async function size(data: Buffer): Promise<[number, number, string]> {
  const m = await sharp(data).metadata();
  return [m.width ?? 0, m.height ?? 0, m.format ?? ''];
}

describe('query → operations', () => {
  test('Go strconv.Atoi with errors as 0', () => {
    assert.equal(atoi('12'), 12);
    assert.equal(atoi('+3'), 3);
    assert.equal(atoi('-3'), -3);
    assert.equal(atoi('3px'), 0);
    assert.equal(atoi(''), 0);
  });

  test('resize for png/jpg/jpeg/gif/webp, crop for png/jpg/jpeg/gif', () => {
    assert.deepEqual(imageOps('.png', q({ width: '2', height: '1' })), { resize: { width: 2, height: 1, mode: '' }, crop: undefined });
    assert.deepEqual(imageOps('.PNG', q({ width: '2' })), { resize: { width: 2, height: 0, mode: '' }, crop: undefined });
    assert.equal(imageOps('.txt', q({ width: '2' })), undefined);
    assert.equal(imageOps('', q({ width: '2' })), undefined);
    assert.deepEqual(imageOps('.webp', q({ width: '2', crop_x2: '3', crop_y2: '3' })), {
      resize: { width: 2, height: 0, mode: '' },
      crop: undefined,
    });
    assert.deepEqual(imageOps('.jpg', q({ crop_x1: '1', crop_y1: '1', crop_x2: '4', crop_y2: '3' }))?.crop, { x1: 1, y1: 1, x2: 4, y2: 3 });
    // an empty or inverted rectangle is no crop
    assert.equal(imageOps('.jpg', q({ crop_x1: '4', crop_x2: '4', crop_y2: '3' })), undefined);
    assert.equal(imageOps('.jpg', q({ crop_x1: '-1', crop_x2: '4', crop_y2: '3' })), undefined);
  });
});

describe('transformImage', () => {
  test('resize a 6x4 png to fit 2x1', async () => {
    const out = await transformImage(await png(6, 4), '.png', { resize: { width: 2, height: 1, mode: '' } });
    const [w, h, f] = await size(out);
    assert.ok(w <= 2 && h <= 1, `${w}x${h}`);
    assert.equal(f, 'png');
  });

  test('crop [1,4)x[1,3) gives exactly 3x2, then resize applies to the cropped image', async () => {
    const src = await png(6, 4);
    assert.deepEqual(await size(await transformImage(src, '.png', { crop: { x1: 1, y1: 1, x2: 4, y2: 3 } })), [3, 2, 'png']);
    const both = await transformImage(src, '.png', { crop: { x1: 0, y1: 0, x2: 4, y2: 4 }, resize: { width: 2, height: 0, mode: '' } });
    assert.deepEqual(await size(both), [2, 2, 'png']);
  });

  test('square thumbnail when width == height on a non-square image; fit keeps the aspect', async () => {
    const src = await png(6, 4);
    assert.deepEqual(await size(await transformImage(src, '.png', { resize: { width: 2, height: 2, mode: '' } })), [2, 2, 'png']);
    assert.deepEqual(await size(await transformImage(src, '.png', { resize: { width: 3, height: 3, mode: 'fit' } })), [3, 2, 'png']);
    assert.deepEqual(await size(await transformImage(src, '.png', { resize: { width: 3, height: 3, mode: 'fill' } })), [3, 3, 'png']);
  });

  test('no upscaling, crop past the image, and undecodable data leave the bytes unchanged', async () => {
    const src = await png(6, 4);
    assert.equal(await transformImage(src, '.png', { resize: { width: 10, height: 10, mode: '' } }), src);
    assert.equal(await transformImage(src, '.png', { crop: { x1: 0, y1: 0, x2: 7, y2: 2 } }), src);
    const junk = Buffer.from('not an image at all');
    assert.equal(await transformImage(junk, '.png', { resize: { width: 1, height: 1, mode: '' } }), junk);
  });

  test('output encoding follows the extension (webp is written as PNG, as Go does)', async () => {
    const src = await png(6, 4);
    assert.equal((await size(await transformImage(src, '.jpg', { resize: { width: 3, height: 0, mode: '' } })))[2], 'jpeg');
    assert.equal((await size(await transformImage(src, '.gif', { resize: { width: 3, height: 0, mode: '' } })))[2], 'gif');
    const webp = await sharp(src).webp().toBuffer();
    assert.equal((await size(await transformImage(webp, '.webp', { resize: { width: 3, height: 0, mode: '' } })))[2], 'png');
  });
});

describe('fixJpegOrientation', () => {
  test('rotates a JPEG with EXIF orientation 6 upright; leaves others alone', async () => {
    const raw = await sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const fixed = await fixJpegOrientation(raw);
    const m = await sharp(fixed).metadata();
    assert.equal(m.width, 4);
    assert.equal(m.height, 6);
    assert.ok(!m.orientation || m.orientation === 1);
    const plain = await sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 1, g: 2, b: 3 } } }).jpeg().toBuffer();
    assert.equal(await fixJpegOrientation(plain), plain);
    const pngData = await png(2, 2);
    assert.equal(await fixJpegOrientation(pngData), pngData);
  });
});
