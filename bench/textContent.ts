/**
 * Compressible, code-looking text for the generated store (PHP, twig, JS, CSS,
 * language files). Lines are drawn from a per-language pool filled from templates,
 * in runs, so files share boilerplate the way a real OpenCart tree does.
 */
import { Rng } from './prng.js';

export type TextKind = 'php' | 'lang' | 'twig' | 'js' | 'css';

const WORDS = [
  'product', 'category', 'customer', 'order', 'option', 'attribute', 'manufacturer', 'review',
  'coupon', 'voucher', 'setting', 'extension', 'module', 'payment', 'shipping', 'total',
  'language', 'currency', 'tax_class', 'weight_class', 'length_class', 'stock_status', 'store',
  'layout', 'banner', 'information', 'download', 'filter', 'return', 'affiliate', 'marketing',
  'subscription', 'event', 'cron', 'seo_url', 'user', 'api', 'country', 'zone', 'geo_zone',
  'address', 'cart', 'wishlist', 'compare', 'search', 'special', 'discount', 'reward', 'image',
  'description', 'status', 'sort_order', 'date_added', 'date_modified', 'price', 'quantity',
  'model', 'sku', 'upc', 'ean', 'isbn', 'mpn', 'location', 'minimum', 'subtract', 'points',
];

const TEXT_WORDS = [
  'Success', 'You', 'have', 'modified', 'products', 'Warning', 'permission', 'to', 'the', 'must',
  'be', 'between', 'and', 'characters', 'Please', 'select', 'enter', 'a', 'valid', 'name', 'Add',
  'Edit', 'Delete', 'Filter', 'List', 'No', 'results', 'Default', 'Enabled', 'Disabled', 'Save',
  'Cancel', 'Are', 'sure', 'Your', 'shopping', 'cart', 'is', 'empty', 'Checkout', 'Continue',
];

function fill(template: string, rng: Rng): string {
  return template
    .replace(/\{w\}/g, () => rng.pick(WORDS))
    .replace(/\{W\}/g, () => {
      const w = rng.pick(WORDS);
      return w.charAt(0).toUpperCase() + w.slice(1).replace(/_(\w)/g, (_m, c: string) => c.toUpperCase());
    })
    .replace(/\{n\}/g, () => String(rng.int(0, 9999)))
    .replace(/\{t\}/g, () => {
      const n = rng.int(2, 9);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(rng.pick(TEXT_WORDS));
      return parts.join(' ');
    })
    .replace(/\{c\}/g, () => '#' + (rng.u32() & 0xffffff).toString(16).padStart(6, '0'));
}

const TEMPLATES: Record<TextKind, readonly string[]> = {
  php: [
    "$this->load->language('{w}/{w}');",
    "$this->load->model('{w}/{w}');",
    "$data['breadcrumbs'][] = ['text' => $this->language->get('text_{w}'), 'href' => $this->url->link('{w}/{w}', 'user_token=' . $this->session->data['user_token'])];",
    "if (isset($this->request->get['filter_{w}'])) {",
    "\t$filter_{w} = $this->request->get['filter_{w}'];",
    "} else {",
    "\t$filter_{w} = '';",
    '}',
    "$query = $this->db->query(\"SELECT * FROM `\" . DB_PREFIX . \"{w}` WHERE `{w}_id` = '\" . (int)${w}_id . \"'\");",
    "$this->db->query(\"UPDATE `\" . DB_PREFIX . \"{w}` SET `{w}` = '\" . $this->db->escape((string)$data['{w}']) . \"', `date_modified` = NOW() WHERE `{w}_id` = '\" . (int)${w}_id . \"'\");",
    "foreach ($results as $result) {",
    "\t$data['{w}s'][] = ['{w}_id' => $result['{w}_id'], 'name' => $result['name'], 'edit' => $this->url->link('{w}/{w}.form', 'user_token=' . $this->session->data['user_token'] . '&{w}_id=' . $result['{w}_id'] . $url)];",
    'public function {w}(): void {',
    'public function get{W}(int ${w}_id): array {',
    "\treturn $query->row;",
    "$json['error']['{w}'] = $this->language->get('error_{w}');",
    "if (!$this->user->hasPermission('modify', '{w}/{w}')) {",
    "$this->response->addHeader('Content-Type: application/json');",
    '$this->response->setOutput(json_encode($json));',
    "$data['header'] = $this->load->controller('common/header');",
    "$this->response->setOutput($this->load->view('{w}/{w}_list', $data));",
    '// {t}',
    '/**',
    ' * {t}',
    ' *',
    ' * @param array<string, mixed> $data',
    ' * @return int',
    ' */',
    "$url .= '&page=' . $this->request->get['page'];",
    '$total = $this->model_{w}_{w}->getTotal{W}s($filter_data);',
    "$pagination = $this->load->controller('common/pagination', ['total' => $total, 'page' => $page, 'limit' => {n}]);",
  ],
  lang: [
    "$_['heading_title'] = '{t}';",
    "$_['text_{w}'] = '{t}';",
    "$_['text_{w}_{w}'] = '{t}';",
    "$_['entry_{w}'] = '{t}';",
    "$_['help_{w}'] = '{t}';",
    "$_['error_{w}'] = 'Warning: {t}!';",
    "$_['column_{w}'] = '{t}';",
    "$_['button_{w}'] = '{t}';",
    '// {t}',
  ],
  twig: [
    '{{ header }}{{ column_left }}',
    '<div id="content">',
    '  <div class="page-header">',
    '    <div class="container-fluid">',
    '      <div class="float-end"><a href="{{ {w} }}" data-bs-toggle="tooltip" title="{{ button_{w} }}" class="btn btn-primary"><i class="fa-solid fa-plus"></i></a></div>',
    '      <h1>{{ heading_title }}</h1>',
    '      <ol class="breadcrumb">',
    '        {% for breadcrumb in breadcrumbs %}',
    '          <li class="breadcrumb-item"><a href="{{ breadcrumb.href }}">{{ breadcrumb.text }}</a></li>',
    '        {% endfor %}',
    '      </ol>',
    '    </div>',
    '  </div>',
    '  <div class="card-body">',
    '    <label for="input-{w}" class="form-label">{{ entry_{w} }}</label>',
    '    <input type="text" name="{w}" value="{{ {w} }}" placeholder="{{ entry_{w} }}" id="input-{w}" class="form-control"/>',
    '    <div id="error-{w}" class="invalid-feedback"></div>',
    '    {% if {w} %}',
    '    {% else %}',
    '    {% endif %}',
    '    <td class="text-start">{{ {w}.{w} }}</td>',
    '    <button type="submit" form="form-{w}" data-bs-toggle="tooltip" title="{{ button_save }}" class="btn btn-primary"><i class="fa-solid fa-floppy-disk"></i></button>',
    '  </div>',
    '</div>',
    '{{ footer }}',
  ],
  js: [
    "$('#button-{w}').on('click', function (e) {",
    '    e.preventDefault();',
    "    var element = this;",
    '    $.ajax({',
    "        url: 'index.php?route={w}/{w}&user_token={{ user_token }}&{w}_id=' + {w}_id,",
    "        type: 'post',",
    "        dataType: 'json',",
    "        data: $('#form-{w}').serialize(),",
    '        beforeSend: function () {',
    "            $(element).button('loading');",
    '        },',
    '        success: function (json) {',
    "            $('.alert-dismissible').remove();",
    "            if (json['error']) { $('#alert').prepend('<div class=\"alert alert-danger\">' + json['error'] + '</div>'); }",
    '        },',
    '        error: function (xhr, ajaxOptions, thrownError) {',
    "            console.log(thrownError + \"\\r\\n\" + xhr.statusText + \"\\r\\n\" + xhr.responseText);",
    '        }',
    '    });',
    '});',
    '// {t}',
    'function {w}{W}(a, b) { return a.{w} - b.{w} + {n}; }',
  ],
  css: [
    '.{w}-{w} {',
    '  margin: 0 0 {n}px 0;',
    '  padding: {n}px;',
    '  color: {c};',
    '  background-color: {c};',
    '  border: 1px solid {c};',
    '  font-size: 14px;',
    '  display: flex;',
    '}',
    '#{w} .{w}:hover { color: {c}; text-decoration: none; }',
    '@media (min-width: 768px) { .{w} { width: {n}px; } }',
    '/* {t} */',
  ],
};

const HEADERS: Record<TextKind, string> = {
  php: '<?php\n',
  lang: '<?php\n// Heading\n',
  twig: '',
  js: "'use strict';\n",
  css: '@charset "UTF-8";\n',
};

/** A pool of filled-in lines per kind; files are built from runs of pool lines. */
export class TextFactory {
  private readonly pools: Record<TextKind, string[]>;

  constructor(private readonly rng: Rng, poolSize = 4000) {
    const pools = {} as Record<TextKind, string[]>;
    for (const kind of Object.keys(TEMPLATES) as TextKind[]) {
      const templates = TEMPLATES[kind];
      const pool: string[] = [];
      for (let i = 0; i < poolSize; i++) {
        // Mostly in template order (structure), sometimes random (variety).
        const t = rng.float() < 0.7 ? templates[i % templates.length] : rng.pick(templates);
        pool.push(fill(t ?? '', rng));
      }
      pools[kind] = pool;
    }
    this.pools = pools;
  }

  /** Exactly `size` bytes of text of the given kind (ASCII only, so chars = bytes). */
  make(kind: TextKind, size: number): Buffer {
    const pool = this.pools[kind];
    const parts: string[] = [HEADERS[kind]];
    let len = parts[0]?.length ?? 0;
    while (len < size) {
      const start = this.rng.int(0, pool.length - 1);
      const run = this.rng.int(4, 40);
      const indent = '\t'.repeat(this.rng.int(0, 3));
      for (let i = 0; i < run && len < size; i++) {
        const line = indent + (pool[(start + i) % pool.length] ?? '') + '\n';
        parts.push(line);
        len += line.length;
      }
      if (this.rng.float() < 0.2) {
        // A unique line now and then (ids, comments) so files are not pure copies.
        const line = `// ${this.rng.u32().toString(36)} ${this.rng.u32().toString(36)}\n`;
        parts.push(line);
        len += line.length;
      }
    }
    return Buffer.from(parts.join('').slice(0, size), 'latin1');
  }
}
