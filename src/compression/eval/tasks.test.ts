import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../errors.ts';
import { capitalize, hellaswagQuery, preprocessHellaswag } from './hellaswag.ts';
import { requestsOf } from './task-types.ts';
import { DEFAULT_DATA_DIR, loadTask, TASKS } from './tasks.ts';

describe('task loaders on the bundled subsets in fixtures/tasks', () => {
  it('load every item of each split the harness uses', async () => {
    const sizes: Record<string, number> = { piqa: 500, arc_easy: 500, arc_challenge: 500, winogrande: 500, hellaswag: 500, boolq: 500 };
    for (const name of Object.keys(TASKS)) {
      const items = await loadTask(name);
      expect(items.length, name).toBe(sizes[name]);
      for (const ex of items) expect(ex.gold >= 0 && ex.gold < ex.choices.length, name).toBe(true);
    }
  });

  it('PIQA: "Question: {goal}\\nAnswer:" with " {sol}" continuations, gold from valid-labels.lst', async () => {
    const [ex] = await loadTask('piqa', DEFAULT_DATA_DIR, 1);
    expect(ex.context).toBe("Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
    expect(ex.gold).toBe(0);
    expect(requestsOf(ex)[1].continuation).toBe(' Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, you will also need to supply it with a water bottle and a food dish.');
  });

  it('ARC: answerKey looked up among the labels, letters or digits', async () => {
    const items = await loadTask('arc_easy', DEFAULT_DATA_DIR, 15);
    expect(items[0].context).toBe('Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:');
    expect(items[0].gold).toBe(0);
    expect(items[14].choices).toEqual(['air', 'elements', 'water', 'soil']);
    expect(items[14].gold).toBe(1);
  });

  it('WinoGrande: partial evaluation, each option completes the prefix, the rest is the shared continuation', async () => {
    const [ex] = await loadTask('winogrande', DEFAULT_DATA_DIR, 1);
    expect(requestsOf(ex)).toEqual([
      { context: 'Sarah was a much better surgeon than Maria so Sarah', continuation: ' always got the easier cases.' },
      { context: 'Sarah was a much better surgeon than Maria so Maria', continuation: ' always got the easier cases.' },
    ]);
    expect(ex.gold).toBe(1);
    expect(TASKS.winogrande.metrics).toEqual(['acc']);
  });

  it('HellaSwag: the harness query with ctx_b capitalized, preprocessed endings', async () => {
    const items = await loadTask('hellaswag');
    expect(items[0].context).toBe('Roof shingle removal: A man is sitting on a roof. He');
    expect(items[0].choices[3]).toBe('starts pulling up roofing on a roof.');
    expect(items[0].gold).toBe(3);
    expect(items[255].context).toContain('Visit a site like to find loads'); // item 3505 of the full set
  });

  it('BoolQ: "{passage}\\nQuestion: {question}?\\nAnswer:" with no/yes', async () => {
    const [ex] = await loadTask('boolq', DEFAULT_DATA_DIR, 1);
    expect(ex.context.startsWith('All biomass goes through')).toBe(true);
    expect(ex.context.endsWith('\nQuestion: does ethanol take more energy make that produces?\nAnswer:')).toBe(true);
    expect(requestsOf(ex).map((r) => r.continuation)).toEqual([' no', ' yes']);
    expect(ex.gold).toBe(0);
  });

  it('limit keeps the first N items; unknown tasks and missing files are one InvalidRequest line', async () => {
    expect(await loadTask('piqa', DEFAULT_DATA_DIR, 3)).toEqual((await loadTask('piqa')).slice(0, 3));
    await expect(loadTask('mmlu')).rejects.toThrow(/unknown task 'mmlu' \(known: piqa, arc_easy/);
    const empty = await mkdtemp(join(tmpdir(), 'flatgate-eval-'));
    await expect(loadTask('piqa', empty)).rejects.toBeInstanceOf(InvalidRequest);
    await mkdir(join(empty, 'hellaswag'));
    await writeFile(join(empty, 'hellaswag', 'hellaswag_val_full.txt'), 'a: b\n7\nx\ny\nz\nw\n');
    await expect(loadTask('hellaswag', empty)).rejects.toThrow(/gold label must be 0-3/);
  });
});

describe('HellaSwag preprocessing (the harness `preprocess` and `str.capitalize`)', () => {
  it('matches hand-worked cases', () => {
    expect(preprocessHellaswag(' How to x [title] Do y [step] z ')).toBe('How to x. Do y z');
    expect(preprocessHellaswag('a [header] b')).toBe('a b');
    expect(capitalize('the LADY')).toBe('The lady');
    expect(capitalize('')).toBe('');
    expect(hellaswagQuery('Clean and jerk: A lady walks to a barbell. She bends down. the lady')).toBe('Clean and jerk: A lady walks to a barbell. She bends down. The lady');
    expect(hellaswagQuery('Home: How to x. Be in the u.s. or not.')).toBe('Home: How to x. Be in the u.s. or not.');
    expect(hellaswagQuery('Sumo: the men')).toBe('Sumo: The men');
  });
});
