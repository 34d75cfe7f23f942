{#- Private: values as hook_fingerprints hashes them. -#}

{#- A value as text to hash. dbt's tojson raises on what JSON cannot hold (a var can hold a
    date), so such values are first turned into their text: a changed value still changes
    the text. -#}
{% macro _hook_text(value) -%}
  {{ return(tojson(orchestra_dbt._hook_plain(value, 0), sort_keys=true)) }}
{%- endmacro %}

{% macro _hook_plain(value, depth) -%}
  {%- if value is none or value is string or value is boolean or value is number or depth > 30 -%}
    {{ return(value if depth <= 30 else (value | string)) }}
  {%- elif value is mapping -%}
    {%- set plain = {} -%}
    {%- for key, item in value.items() -%}
      {%- do plain.update({key | string: orchestra_dbt._hook_plain(item, depth + 1)}) -%}
    {%- endfor -%}
    {{ return(plain) }}
  {%- elif value is iterable and value is not undefined -%}
    {%- set plain = [] -%}
    {%- for item in value -%}
      {%- do plain.append(orchestra_dbt._hook_plain(item, depth + 1)) -%}
    {%- endfor -%}
    {{ return(plain) }}
  {%- endif -%}
  {{ return(value | string) }}
{%- endmacro %}


{#- The values of the vars, env vars (as md5) and target fields that `text` names. -#}
{% macro _hook_read_values(text) -%}
  {%- set re = modules.re -%}
  {%- set missing = '\x00orchestra_dbt: not set' -%}
  {%- set vars = {} -%}
  {%- for name in re.findall("\\bvar\\(\\s*['\"]([^'\"]+)['\"]", text) | unique | sort -%}
    {%- do vars.update({name: var(name, missing)}) -%}
  {%- endfor -%}
  {%- set envs = {} -%}
  {%- for name in re.findall("\\benv_var\\(\\s*['\"]([^'\"]+)['\"]", text) | unique | sort if name != 'ORCHESTRA_DBT_RECORDER' -%}
    {%- do envs.update({name: local_md5(env_var(name, missing) | string)}) -%}
  {%- endfor -%}
  {%- set targets = {} -%}
  {%- for name in re.findall("\\btarget\\.(\\w+)", text) | unique | sort -%}
    {%- do targets.update({name: local_md5(orchestra_dbt._hook_text(target.get(name)))}) -%}
  {%- endfor -%}
  {{ return({'vars': vars, 'env_vars': envs, 'target': targets}) }}
{%- endmacro %}
